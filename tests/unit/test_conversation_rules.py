from datetime import datetime

import pytest

from papo.conversation.crew import parse_review
from papo.conversation.prompt import PastTurn, build_messages
from papo.conversation.reminders import parse_reminder
from papo.conversation.sentences import sentences
from papo.conversation.wellbeing import assess

NOW = datetime(2026, 11, 27, 14, 5)


@pytest.mark.parametrize(
    ("text", "what", "due"),
    [
        ("Me lembra de tomar o remédio às oito.", "tomar o remédio", datetime(2026, 11, 27, 20, 0)),
        ("Papo, me lembra de ligar para a Ana daqui a dez minutos", "ligar para a Ana", datetime(2026, 11, 27, 14, 15)),
        ("me lembre de regar as plantas amanhã às nove e meia da manhã", "regar as plantas",
         datetime(2026, 11, 28, 9, 30)),
        ("às 20:30 me lembra de ver a novela", "ver a novela", datetime(2026, 11, 27, 20, 30)),
        ("me lembra de tomar o remédio às 16h30", "tomar o remédio", datetime(2026, 11, 27, 16, 30)),
        ("me lembra de ligar pro João às 3 da tarde", "ligar pro João", datetime(2026, 11, 27, 15, 0)),
        ("me lembra de tomar o remédio às dezesseis horas", "tomar o remédio", datetime(2026, 11, 27, 16, 0)),
        ("Remind me to call Ana at 7 pm", "call Ana", datetime(2026, 11, 27, 19, 0)),
        ("remind me to take my pills in twenty minutes", "take my pills", datetime(2026, 11, 27, 14, 25)),
        ("me lembra de beber água daqui a 2 segundos", "beber água", datetime(2026, 11, 27, 14, 5, 2)),
    ],
)  # fmt: skip
def test_reminder_requests_are_understood(text: str, what: str, due: datetime) -> None:
    request = parse_reminder(text, NOW)
    assert request is not None and (request.what, request.due_at) == (what, due)


@pytest.mark.parametrize(
    "text", ["Bom dia, tudo bem?", "me lembra de tomar o remédio", "Lembro da minha mãe às vezes", "às 25:00 me lembra"]
)
def test_no_reminder_without_a_request_and_a_valid_time(text: str) -> None:
    assert parse_reminder(text, NOW) is None


@pytest.mark.parametrize(
    ("text", "kind", "severity"),
    [
        ("Socorro!", "emergency", "critical"),
        ("Estou com uma dor no peito forte", "emergency", "critical"),
        ("Caí no banheiro e não consigo levantar", "fall", "high"),
        ("Eu caí da escada hoje", "fall", "high"),
        ("Estou passando mal", "unwell", "high"),
        ("Não aguento mais essa vida", "distress", "medium"),
        ("Me sinto muito sozinha", "loneliness", "low"),
        ("I fell and I can't get up", "fall", "high"),
    ],
)
def test_wellbeing_signs(text: str, kind: str, severity: str) -> None:
    sign = assess(text)
    assert sign is not None and (sign.kind, sign.severity.value) == (kind, severity)


@pytest.mark.parametrize("text", ["A chuva cai lá fora", "Hoje está um dia bonito", "O preço do café caiu"])
def test_ordinary_talk_raises_nothing(text: str) -> None:
    assert assess(text) is None


def test_sentences_are_released_as_soon_as_they_end() -> None:
    pieces = ["Olá, ", "Maria! Tudo bem? ", "Eu sou o Papo. Sr. ", "Dr. Silva ligou", "..."]
    assert list(sentences(pieces)) == ["Olá, Maria!", "Tudo bem?", "Eu sou o Papo.", "Sr. Dr. Silva ligou..."]
    stream = iter(["Primeira frase completa. ", "Segunda"])
    first = next(sentences(stream))
    assert first == "Primeira frase completa." and next(stream) == "Segunda"  # not waiting for the rest


def test_a_short_exclamation_is_said_at_once_an_abbreviation_is_not_a_sentence() -> None:
    stream = iter(["Que bom! ", "A praça é linda"])
    assert next(sentences(stream)) == "Que bom!"  # spoken while the model writes the rest
    assert list(sentences(["Oi, Sr. João. Dr. Paulo ligou."])) == ["Oi, Sr. João.", "Dr. Paulo ligou."]
    assert list(sentences(["Ah! "])) == ["Ah!"]


def test_a_long_run_without_punctuation_is_cut_at_a_comma() -> None:
    text = "e então " * 20 + ", depois disso " + "fomos embora " * 10
    parts = list(sentences([text]))
    assert len(parts) >= 2 and all(len(p) <= 220 for p in parts)


@pytest.mark.parametrize(
    ("raw", "facts", "concern"),
    [
        ('{"facts": ["A neta se chama Júlia"], "concern": "none"}', ["A neta se chama Júlia"], None),
        ('Final Answer: ```json\n{"facts": [], "concern": "loneliness"}\n```', [], "loneliness"),
        ("{'facts': ['O cachorro é o Bolt',], 'concern': 'fall'}", ["O cachorro é o Bolt"], "fall"),
    ],
)
def test_the_crew_review_is_read_leniently(raw: str, facts: list[str], concern: str | None) -> None:
    review = parse_review(raw)
    assert review is not None and review.facts == facts and review.concern == concern


def test_nonsense_from_the_crew_is_ignored() -> None:
    assert parse_review("I cannot help with that.") is None


def test_the_prompt_carries_memories_history_and_concern() -> None:
    messages = build_messages(
        "pt", "Papo", "E hoje?", ["A neta se chama Júlia"], [PastTurn("person", "Oi"), PastTurn("companion", "Olá!")],
        concern="loneliness",
    )  # fmt: skip
    assert [m.role for m in messages] == ["system", "user", "assistant", "user"]
    assert "Júlia" in messages[0].content and "loneliness" in messages[0].content
    assert "português do Brasil" in messages[0].content


def test_no_urgent_answer_claims_that_anyone_was_told() -> None:
    from papo.conversation.phrases import _URGENT

    claims = ("avisando", "avisei", "avisar a sua família", "letting your family", "i told", "i've told")
    for answers in _URGENT.values():
        for text in answers.values():
            assert not any(claim in text.lower() for claim in claims), text

"""The reply filter, the unspeakable tokens, the grounded prompt, the person's name and the honest «não consigo»."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from papo.conversation.llm import LlmUnavailableError
from papo.conversation.person import person_name
from papo.conversation.prompt import Grounding, PastTurn, companion_messages, fixed_text, prompt_echo
from papo.conversation.reach import OutOfReach, cannot, out_of_reach
from papo.conversation.reply_filter import cheer_after, clean_sentence, speakable
from papo.conversation.sentences import sentences
from papo.conversation.tuning import LEGACY, TUNED
from papo.conversation.unspeakable import BAN, banned_tokens, cache_path, unspeakable


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        ("**Que bom!** Conte mais.", "Que bom! Conte mais."),
        ("Que alegria 😊🌻!", "Que alegria!"),
        ("- Caminhar faz bem.", "Caminhar faz bem."),
        ("1. Beba água.", "Beba água."),
        ("## Dica: descanse.", "Dica: descanse."),
        ('"Olá, Dona Cida!', "Olá, Dona Cida!"),
    ],
)
def test_markup_lists_and_emojis_are_removed(raw: str, said: str) -> None:
    assert " ".join(speakable(sentences([raw]))) == said


@pytest.mark.parametrize(
    "sentence",
    [
        "Como posso ajudar você hoje?",
        "Estou aqui para ajudá-lo hoje.",
        "Aqui estão algumas dicas para você.",
        "Você conseguiu se tornar um assistente de conversa carinhoso.",
        "Sou uma IA e não tenho sentimentos.",
        "Como assistente, eu recomendo descansar.",
        "Tome 500 mg de dipirona.",
        "Pode tomar dois comprimidos por dia.",
        "Tome de oito em oito horas.",
        "Veja em https://example.com para saber mais.",
        "Use print(x) para isso.",
        "x = 2",
        "😊🌻",
    ],
)
def test_what_must_not_be_said_is_dropped(sentence: str) -> None:
    assert clean_sentence(sentence) is None


def test_ordinary_sentences_pass_unchanged() -> None:
    for sentence in ("Que bom que a senhora foi à feira!", "São R$ 10,00 o quilo?", "Sua neta tem 8 anos?"):
        assert clean_sentence(sentence) == sentence


def test_a_reply_stops_at_a_whole_sentence() -> None:
    cut = list(speakable(sentences(["Que passeio bom! A praça é linda de manhã. E a sua vizinha, como vai? E"])))
    assert cut == ["Que passeio bom!", "A praça é linda de manhã.", "E a sua vizinha, como vai?"]
    unfinished = list(speakable(sentences(["Que bom ouvir isso. A senhora gosta de caminhar porque"])))
    assert unfinished == ["Que bom ouvir isso."]


def test_a_reply_of_only_an_unfinished_sentence_is_still_said() -> None:
    assert list(speakable(sentences(["Que bom ouvir isso"]))) == ["Que bom ouvir isso."]


def test_a_long_reply_ends_once_enough_was_said() -> None:
    long = " ".join(f"Esta é a frase número {n} de uma resposta longa demais para falar." for n in range(8))
    said = list(speakable(sentences([long])))
    assert 1 <= len(said) <= 3 and sum(len(s.split()) for s in said) <= 45


@pytest.mark.parametrize(
    "piece",
    [b"\n", b"**", b" #", b"`", b"_", b"<", b"=>", b" |", b"@", "→".encode(), "😊".encode(), b"\xf0\x9f", b"\xe2\x86"],
)
def test_markup_code_signs_line_breaks_and_emojis_are_unspeakable(piece: bytes) -> None:
    assert unspeakable(piece)


@pytest.mark.parametrize(
    "piece", [b" bom", b" dia", "ção".encode(), b",", b"!", b"?", "—".encode(), b"\xe2\x80", b" -"]
)
def test_words_punctuation_and_dashes_are_speakable(piece: bytes) -> None:
    assert not unspeakable(piece)  # a lone E2 byte may start "—" or "…": only E2 86..AF starts an arrow or a sign


def test_the_ban_and_sampling_go_only_to_the_embedded_server() -> None:
    options = TUNED.request_options(embedded=True, banned=[10, 20])
    assert options["logit_bias"] == {"10": BAN, "20": BAN} and "top_p" in options and "repeat_penalty" in options
    assert TUNED.request_options(embedded=False, banned=[10]) == {}  # another server may refuse fields it does not know
    assert LEGACY.request_options(embedded=True, banned=[10]) == {}
    assert "seed" not in options and replace(LEGACY, seed=7).request_options(embedded=True) == {"seed": 7}


def test_the_banned_ids_are_read_once_and_kept_beside_the_model(tmp_path: Path) -> None:
    gguf = tmp_path / "model.gguf"
    cache_path(gguf).write_text("[3, 5, 8]", encoding="utf-8")
    assert banned_tokens(gguf) == [3, 5, 8]  # no child process: the kept list is used


def test_a_damaged_list_is_read_again_from_the_model(tmp_path: Path) -> None:
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"not a gguf")
    cache_path(gguf).write_text('{"broken": true}', encoding="utf-8")
    with pytest.raises(LlmUnavailableError, match=r"could not read the vocabulary of model\.gguf"):
        banned_tokens(gguf)


def test_the_grounded_prompt_carries_the_moment_the_name_and_memories() -> None:
    grounding = Grounding(datetime(2026, 11, 30, 8, 15), "Maria", ("A neta se chama Júlia",), "loneliness")
    history = [PastTurn("person", "Oi"), PastTurn("companion", "Olá!")]
    messages = companion_messages("pt", "Papo", "E hoje?", grounding, history)
    assert [m.role for m in messages] == ["system", "user", "assistant", "user"]
    system = messages[0].content
    assert "Papo" in system and "previsão do tempo" in system and "médico" in system
    assert system.count("você responde «") == 2  # example exchanges
    for fact in ("segunda-feira, 30 de novembro de 2026, de manhã", "Maria", "Júlia", "loneliness"):
        assert fact in system
    assert [m.content for m in messages[1:]] == ["Oi", "Olá!", "E hoje?"]


def test_the_fixed_part_of_the_prompt_comes_first_and_the_hour_changes_it_at_most() -> None:
    """llama.cpp reuses what it already read: the rules and examples come first, the same at every turn."""
    first = companion_messages("pt", "Papo", "Oi", Grounding(datetime(2026, 1, 1, 9, 0)), [])[0].content
    later = companion_messages("pt", "Papo", "Tchau", Grounding(datetime(2026, 1, 1, 9, 59), "Ana"), [])[0].content
    fixed = fixed_text("pt", "Papo")
    assert first.startswith(fixed) and later.startswith(fixed)
    assert first == companion_messages("pt", "Papo", "Outra", Grounding(datetime(2026, 1, 1, 9, 40)), [])[0].content


@pytest.mark.parametrize(
    ("texts", "name"),
    [
        (["Meu nome é Maria."], "Maria"),
        (["Bom dia!", "Pode me chamar de dona Rosa, por favor."], "dona Rosa"),
        (["Eu me chamo José Carlos e moro em Santos."], "José Carlos"),
        (["Hoje está calor."], None),
        (["Eu me chamo assim porque gosto."], None),
    ],
)
def test_the_persons_name_comes_from_their_own_words(texts: list[str], name: str | None) -> None:
    assert person_name(texts) == name


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Vai chover amanhã?", OutOfReach.WEATHER),
        ("Papo, qual é a previsão do tempo?", OutOfReach.WEATHER),
        ("Quais são as notícias de hoje?", OutOfReach.NEWS),
        ("Quem ganhou o jogo ontem?", OutOfReach.NEWS),
        ("Como está o trânsito na cidade agora?", OutOfReach.NEWS),
        ("Hoje peguei muito trânsito na volta do mercado.", None),
        ("Liga para a minha filha, por favor.", OutOfReach.CALL),
        ("Papo, manda uma mensagem pro meu neto.", OutOfReach.CALL),
        ("Quantos comprimidos de paracetamol eu posso tomar por dia?", OutOfReach.MEDICINE),
        ("Quanto de insulina eu devo aplicar hoje?", OutOfReach.MEDICINE),
        ("Será que eu tomo um anti-inflamatório?", OutOfReach.MEDICINE),
        ("Será que eu tomo um banho agora?", None),
        ("Ontem eu tomei o remédio da pressão.", None),
        ("Ontem choveu muito e eu fiquei em casa vendo o jogo.", None),
        ("Minha filha vai ligar para mim amanhã de manhã, que bom.", None),
        ("Que horas são?", None),
    ],
)
def test_requests_out_of_reach_are_recognised(text: str, kind: OutOfReach | None) -> None:
    assert out_of_reach(text) == kind


def test_the_answer_out_of_reach_says_it_cannot() -> None:
    for kind in OutOfReach:
        assert "não consigo" in cannot(kind, "pt").lower()
        assert "can't" in cannot(kind, "en")


def test_refusals_and_the_prompt_read_back_are_not_said() -> None:
    for unfit in (
        "Claro! Como posso ajudá-lo hoje?",
        "Sou uma inteligência artificial.",
        "Não posso fornecer informações sobre eventos pessoais.",
        "Desculpe, mas não posso ajudar com isso.",
        "Se precisar de ajuda com alguma coisa, não hesite em perguntar.",
        "Peço desculpas pela confusão, mas não tenho acesso a informações sobre você.",
        "De nada, ficarei feliz em ajudá-lo a fazer o que você precisa.",
        "Se a pessoa diz que está cansada, você responde com carinho.",
    ):
        assert clean_sentence(unfit) is None, unfit
    assert clean_sentence("Não posso ir com você, mas adoro ouvir suas histórias.") is not None


@pytest.mark.parametrize(
    ("heard", "sentence", "out_of_place"),
    [
        ("Hoje faz cinco anos que o meu marido faleceu.", "Que ótimo!", True),
        ("Estou me sentindo muito sozinha hoje.", "Parabéns! Você está bem.", True),
        ("Estou com muita saudade dos meus filhos.", "Sinto muito, a saudade aperta.", False),
        ("Meu neto Pedro passou no vestibular de medicina!", "Que ótimo! Parabéns ao Pedro.", False),
    ],
)
def test_no_cheer_after_sad_news(heard: str, sentence: str, out_of_place: bool) -> None:
    assert cheer_after(heard)(sentence) is out_of_place


def test_the_rules_and_the_examples_read_back_are_echoes_unless_the_person_said_them() -> None:
    echo = prompt_echo("pt", "Papo")
    about_the_dog = echo.check("Meu cachorro late muito de noite.")
    assert about_the_dog("Fui à feira com a minha vizinha.")  # Papo went nowhere: never said
    assert not about_the_dog("Que bom! O seu cachorro late para proteger a casa.")
    assert not about_the_dog("Estou aqui com você.")
    assert about_the_dog("Se você perguntar algo que contou antes, responda com uma frase completa.")  # the rules
    assert not about_the_dog("Sobre isso, converse com o médico ou com a família.")  # the rule meant to be said
    at_the_market = echo.check("Hoje fui à feira com a minha vizinha e comprei frutas.")
    assert not at_the_market("Que bom que você foi à feira com a minha vizinha, digo, a sua!")
    written = ["Fui à feira com a minha vizinha.", "E o seu cachorro, como está?"]
    assert list(speakable(written, about_the_dog)) == ["E o seu cachorro, como está?"]


def test_a_sentence_that_would_make_the_reply_too_long_is_not_said() -> None:
    first = "Que bom que a senhora cuida do joelho, " + "isso é muito importante para caminhar bem " * 2 + "sempre."
    second = "Por exemplo, " + "uma peça de papel ou uma peça de corda " * 3 + "pode ajudar."
    said = list(speakable([first, second]))
    assert said == [first] and len(first.split()) < 45 < len(first.split()) + len(second.split())

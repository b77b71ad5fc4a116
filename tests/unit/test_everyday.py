"""Everyday questions: recognised only when asked on their own, answered as a person says them."""

from __future__ import annotations

from datetime import datetime

import pytest

from papo.conversation.everyday import Intent, date_today, recognise, time_now


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("Que horas são?", Intent.TIME),
        ("Papo, que horas são agora?", Intent.TIME),
        ("What time is it?", Intent.TIME),
        ("Que dia é hoje?", Intent.DATE),
        ("Qual é a data de hoje?", Intent.DATE),
        ("Qual é o seu nome?", Intent.NAME),
        ("Como você se chama?", Intent.NAME),
        ("Pode repetir?", Intent.REPEAT),
        ("Repete, por favor.", Intent.REPEAT),
        ("Quais são os meus lembretes?", Intent.REMINDERS),
        ("O que você lembra de mim?", Intent.MEMORIES),
        ("What do you remember about me?", Intent.MEMORIES),
        ("Para!", Intent.STOP),
        ("Chega, Papo.", Intent.STOP),
        ("Silêncio, por favor.", Intent.STOP),
        ("Para de falar.", Intent.STOP),
    ],
)
def test_everyday_questions_are_recognised(text: str, intent: Intent) -> None:
    assert recognise(text) is intent


@pytest.mark.parametrize(
    "text",
    [
        "Eu perguntei para a minha filha que horas são os jogos de domingo e ela não sabia",
        "Hoje eu fui à feira e comprei frutas.",
        "A minha vizinha repete sempre a mesma história quando a gente se encontra na praça de manhã cedo",
        "",
        "...",
        "Para a minha neta eu comprei um casaco",
    ],
)
def test_other_sentences_are_left_to_the_conversation(text: str) -> None:
    assert recognise(text) is None


@pytest.mark.parametrize(
    ("hour", "minute", "said"),
    [
        (8, 15, "São oito e quinze da manhã."),
        (8, 0, "São oito horas da manhã."),
        (13, 0, "É uma hora da tarde."),
        (13, 30, "É uma e meia da tarde."),
        (12, 0, "É meio-dia."),
        (0, 30, "É meia-noite e meia."),
        (14, 10, "São duas e dez da tarde."),
        (21, 45, "São nove e quarenta e cinco da noite."),
        (3, 5, "São três e cinco da madrugada."),
        (22, 1, "São dez e um da noite."),
    ],
)
def test_the_time_is_said_as_a_brazilian_says_it(hour: int, minute: int, said: str) -> None:
    assert time_now(datetime(2026, 11, 30, hour, minute), "pt") == said


def test_the_time_in_english() -> None:
    assert time_now(datetime(2026, 11, 30, 8, 5), "en") == "It's eight oh five."
    assert time_now(datetime(2026, 11, 30, 12, 0), "en") == "It's noon."
    assert time_now(datetime(2026, 11, 30, 15, 0), "en") == "It's three o'clock."


def test_the_date_with_its_weekday() -> None:
    assert date_today(datetime(2026, 11, 30, 9), "pt") == "Hoje é segunda-feira, trinta de novembro."
    assert date_today(datetime(2026, 12, 1, 9), "pt") == "Hoje é terça-feira, primeiro de dezembro."
    assert date_today(datetime(2026, 3, 21, 9), "pt") == "Hoje é sábado, vinte e um de março."
    assert date_today(datetime(2026, 11, 30, 9), "en") == "Today is Monday, November thirtieth."
    assert date_today(datetime(2026, 11, 23, 9), "en") == "Today is Monday, November twenty-third."


def test_a_question_about_something_else_is_not_the_time() -> None:
    assert recognise("Que horas são os jogos de domingo?") is None
    assert recognise("Que horas são, Papo?") is Intent.TIME


def test_pending_reminders_are_listed_with_their_day_and_time() -> None:
    from papo.conversation.everyday import reminders_said

    now = datetime(2026, 11, 30, 9, 0)
    pending = [("tomar o remédio", datetime(2026, 11, 30, 20, 0)), ("ligar para a Ana", datetime(2026, 12, 1, 10, 30))]

    assert reminders_said(pending, now, "pt") == (
        "Você tem dois lembretes: tomar o remédio, hoje às vinte horas; ligar para a Ana, amanhã às dez e meia."
    )
    assert reminders_said([], now, "pt") == "Você não tem nenhum lembrete."
    five = [(f"item {n}", datetime(2026, 12, 3, 8, 0)) for n in range(5)]
    assert reminders_said(five, now, "pt").endswith("quinta-feira às oito horas; e mais dois.")

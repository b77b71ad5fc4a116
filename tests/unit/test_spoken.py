"""The speech front-end says numbers, times, dates, money and percentages in words, as a person would."""

from __future__ import annotations

import pytest

from papo.speech.spoken import en_number, in_words, pt_number


@pytest.mark.parametrize(
    ("n", "said"),
    [
        (0, "zero"), (1, "um"), (16, "dezesseis"), (21, "vinte e um"), (100, "cem"), (101, "cento e um"),
        (200, "duzentos"), (345, "trezentos e quarenta e cinco"), (1000, "mil"), (1001, "mil e um"),
        (1100, "mil e cem"), (1234, "mil duzentos e trinta e quatro"), (2026, "dois mil e vinte e seis"),
        (21000, "vinte e um mil"),
        (1_200_300, "um milhão duzentos mil e trezentos"), (1_000_000, "um milhão"),
        (2_500_000, "dois milhões e quinhentos mil"),
        (-3, "menos três"),
    ],
)  # fmt: skip
def test_portuguese_numbers(n: int, said: str) -> None:
    assert pt_number(n) == said


def test_feminine_numbers_for_hours_and_things() -> None:
    assert pt_number(22, feminine=True) == "vinte e duas"
    assert pt_number(201, feminine=True) == "duzentas e uma"


def test_english_numbers() -> None:
    assert en_number(1234) == "one thousand two hundred thirty-four"
    assert en_number(40) == "forty"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("O remédio é às 8h30.", "O remédio é às oito e meia."),
        ("Volto às 14h15.", "Volto às catorze e quinze."),
        ("Te lembro às 20:00.", "Te lembro às vinte horas."),
        ("Acordei à 1h.", "Acordei à uma hora."),
        ("A consulta é dia 30/11.", "A consulta é dia trinta de novembro."),
        ("Nasceu em 1/12/1950.", "Nasceu em primeiro de dezembro de mil novecentos e cinquenta."),
        ("Custou R$ 10,50.", "Custou dez reais e cinquenta centavos."),
        ("Choveu 80% do dia.", "Choveu oitenta por cento do dia."),
        ("A temperatura é 36,5 graus.", "A temperatura é trinta e seis vírgula cinco graus."),
        ("São 1.500 passos.", "São mil e quinhentos passos."),
        ("Ela ficou em 2º lugar.", "Ela ficou em segundo lugar."),
        ("Tenho 3 netos e 2 bisnetos.", "Tenho três netos e dois bisnetos."),
        ("Nada de números aqui.", "Nada de números aqui."),
    ],
)
def test_replies_in_portuguese_are_said_in_words(text: str, said: str) -> None:
    assert in_words(text, "pt") == said


def test_replies_in_english_are_said_in_words() -> None:
    assert in_words("See you at 8:05 on 12/25, 1,500 steps, 2.5 km, 50%.", "en") == (
        "See you at eight oh five on December twenty-five, one thousand five hundred steps, "
        "two point five km, fifty percent."
    )


def test_an_absurdly_long_number_is_read_digit_by_digit() -> None:
    assert in_words("1234567890123", "pt").startswith("um dois três quatro")

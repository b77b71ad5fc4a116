"""The speech front-end: numbers, times, dates, money and percentages in a reply said in words (pt-BR, English).

A voice reads "às 8h30" as letters and digits; a person says "às oito e trinta". Every sentence goes through
`in_words` before it is voiced, so replies from the model, the rules and the reminders all sound the same.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_PT_UNITS = (
    "zero", "um", "dois", "três", "quatro", "cinco", "seis", "sete", "oito", "nove", "dez", "onze", "doze",
    "treze", "catorze", "quinze", "dezesseis", "dezessete", "dezoito", "dezenove",
)  # fmt: skip
_PT_TENS = ("", "", "vinte", "trinta", "quarenta", "cinquenta", "sessenta", "setenta", "oitenta", "noventa")
_PT_HUNDREDS = (
    "", "cento", "duzentos", "trezentos", "quatrocentos", "quinhentos", "seiscentos", "setecentos", "oitocentos",
    "novecentos",
)  # fmt: skip
_PT_FEMININE = {"um": "uma", "dois": "duas", "entos": "entas"}
_EN_UNITS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
)  # fmt: skip
_EN_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_PT_MONTHS = (
    "janeiro", "fevereiro", "março", "abril", "maio", "junho",
    "julho", "agosto", "setembro", "outubro", "novembro", "dezembro",
)  # fmt: skip
_EN_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_PT_ORDINALS = ("", "primeir", "segund", "terceir", "quart", "quint", "sext", "sétim", "oitav", "non", "décim")
_LARGEST = 999_999_999_999  # beyond this, digits are read one by one


def _pt_below_thousand(n: int, feminine: bool) -> str:
    if n == 100:
        return "cem"
    hundreds, rest = divmod(n, 100)
    parts = [_PT_HUNDREDS[hundreds]] if hundreds else []
    if rest:
        tens, unit = divmod(rest, 10)
        if rest < 20:
            parts.append(_PT_UNITS[rest])
        else:
            parts.append(_PT_TENS[tens] + (f" e {_PT_UNITS[unit]}" if unit else ""))
    words = " e ".join(parts)
    if feminine:
        words = re.sub(r"\b(um|dois)\b", lambda m: _PT_FEMININE[m.group(1)], words)
        words = words.replace("entos", "entas")
    return words


def pt_number(n: int, feminine: bool = False) -> str:
    """A whole number in Brazilian Portuguese words: 1234 → "mil duzentos e trinta e quatro"."""
    if n < 0:
        return "menos " + pt_number(-n, feminine)
    if n == 0:
        return "zero"
    if n > _LARGEST:
        return " ".join(_PT_UNITS[int(d)] for d in str(n))
    groups: list[tuple[int, str]] = []  # (the group's count, 1-999, and how it is said)
    for scale, one, many in ((10**9, "um bilhão", "bilhões"), (10**6, "um milhão", "milhões")):
        count, n = divmod(n, scale)
        if count:
            groups.append((count, one if count == 1 else f"{_pt_below_thousand(count, False)} {many}"))
    thousands, n = divmod(n, 1000)
    if thousands:
        groups.append((thousands, "mil" if thousands == 1 else f"{_pt_below_thousand(thousands, feminine)} mil"))
    if n:
        groups.append((n, _pt_below_thousand(n, feminine)))
    words = groups[0][1]
    for index, (count, said) in enumerate(groups[1:], start=1):
        # "mil e cem", "dois milhões e quinhentos mil", but "mil duzentos e trinta": "e" before the last group
        # when it is under a hundred or a round hundred
        joined = index == len(groups) - 1 and (count < 100 or count % 100 == 0)
        words += (" e " if joined else " ") + said
    return words


def en_number(n: int) -> str:
    """A whole number in English words: 1234 → "one thousand two hundred thirty-four"."""
    if n < 0:
        return "minus " + en_number(-n)
    if n > _LARGEST:
        return " ".join(_EN_UNITS[int(d)] for d in str(n))
    if n < 20:
        return _EN_UNITS[n]
    if n < 100:
        tens, unit = divmod(n, 10)
        return _EN_TENS[tens] + (f"-{_EN_UNITS[unit]}" if unit else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{_EN_UNITS[hundreds]} hundred" + (f" {en_number(rest)}" if rest else "")
    for scale, name in ((10**9, "billion"), (10**6, "million"), (1000, "thousand")):
        if n >= scale:
            count, rest = divmod(n, scale)
            return f"{en_number(count)} {name}" + (f" {en_number(rest)}" if rest else "")
    raise AssertionError("unreachable")


def _number(language: str) -> Callable[[int], str]:
    return en_number if language == "en" else pt_number


def _pt_time(hour: int, minute: int) -> str:
    said = pt_number(hour, feminine=True)
    if minute == 0:
        return f"{said} hora" if hour == 1 else f"{said} horas"
    return f"{said} e {'meia' if minute == 30 else pt_number(minute)}"


def _en_time(hour: int, minute: int) -> str:
    if minute == 0:
        return f"{en_number(hour)} o'clock"
    return f"{en_number(hour)} {en_number(minute) if minute >= 10 else 'oh ' + en_number(minute)}"


def _date(day: int, month: int, year: str | None, language: str) -> str | None:
    if not (1 <= day <= 31 and 1 <= month <= 12):
        return None
    if language == "en":
        said = f"{_EN_MONTHS[month - 1]} {en_number(day)}"
        return said + (f", {en_number(_full_year(year))}" if year else "")
    said = f"{'primeiro' if day == 1 else pt_number(day)} de {_PT_MONTHS[month - 1]}"
    return said + (f" de {pt_number(_full_year(year))}" if year else "")


def _full_year(year: str | None) -> int:
    value = int(year or 0)
    return value + 2000 if len(year or "") == 2 else value


_TIME = re.compile(r"\b([01]?\d|2[0-3])(?:(?::|h)([0-5]\d)|h)(?!\w)")
_DATE = re.compile(r"\b(\d{1,2})/(\d{1,2})(?:/(\d{4}|\d{2}))?\b")
_MONEY = re.compile(r"R\$\s?(\d{1,3}(?:\.\d{3})*|\d+)(?:,(\d{2}))?")
_PERCENT = re.compile(r"(\d+(?:[.,]\d+)?)\s?%")
_PT_ORDINAL = re.compile(r"\b(10|[1-9])([ºª])")
_PT_THOUSANDS = re.compile(r"\b\d{1,3}(?:\.\d{3})+\b")
_PT_DECIMAL = re.compile(r"\b(\d+),(\d+)\b")
_EN_DECIMAL = re.compile(r"\b(\d+)\.(\d+)\b")
_EN_THOUSANDS = re.compile(r"\b\d{1,3}(?:,\d{3})+\b")
_INTEGER = re.compile(r"\d+")


def _decimal(whole: str, fraction: str, language: str) -> str:
    number = _number(language)
    point = "point" if language == "en" else "vírgula"
    digits = " ".join(number(int(d)) for d in fraction) if fraction.startswith("0") else number(int(fraction))
    return f"{number(int(whole))} {point} {digits}"


def _money(match: re.Match[str]) -> str:
    reais = int(match.group(1).replace(".", ""))
    centavos = int(match.group(2) or 0)
    said = f"{pt_number(reais)} {'real' if reais == 1 else 'reais'}" if reais or not centavos else ""
    if centavos:
        cents = f"{pt_number(centavos)} {'centavo' if centavos == 1 else 'centavos'}"
        said = f"{said} e {cents}" if said else cents
    return said


def in_words(text: str, language: str) -> str:
    """`text` with its numbers, times, dates, percentages and (pt) money written as they are said."""
    if not any(c.isdigit() for c in text):
        return text
    number = _number(language)
    first, second = (2, 1) if language == "en" else (1, 2)  # 12/25 in English, 25/12 in Portuguese
    text = _DATE.sub(
        lambda m: _date(int(m.group(first)), int(m.group(second)), m.group(3), language) or m.group(0), text
    )
    timed = _en_time if language == "en" else _pt_time
    text = _TIME.sub(lambda m: timed(int(m.group(1)), int(m.group(2) or 0)), text)
    if language == "en":
        text = _EN_THOUSANDS.sub(lambda m: m.group(0).replace(",", ""), text)
        text = _PERCENT.sub(lambda m: f"{m.group(1)} percent", text)
        text = _EN_DECIMAL.sub(lambda m: _decimal(m.group(1), m.group(2), language), text)
    else:
        text = _MONEY.sub(_money, text)
        text = _PT_ORDINAL.sub(lambda m: _PT_ORDINALS[int(m.group(1))] + ("o" if m.group(2) == "º" else "a"), text)
        text = _PT_THOUSANDS.sub(lambda m: m.group(0).replace(".", ""), text)
        text = _PERCENT.sub(lambda m: f"{m.group(1)} por cento", text)
        text = _PT_DECIMAL.sub(lambda m: _decimal(m.group(1), m.group(2), language), text)
    return _INTEGER.sub(lambda m: number(int(m.group(0))), text)

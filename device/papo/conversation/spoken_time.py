"""A time of day in words, as it is said aloud ("às oito horas", "à uma e meia", "at eight fifteen")."""

from __future__ import annotations

from datetime import time

_PT_UNITS = (
    "zero", "um", "dois", "três", "quatro", "cinco", "seis", "sete", "oito", "nove", "dez", "onze", "doze",
    "treze", "catorze", "quinze", "dezesseis", "dezessete", "dezoito", "dezenove",
)  # fmt: skip
_PT_TENS = {20: "vinte", 30: "trinta", 40: "quarenta", 50: "cinquenta"}
_PT_FEMININE = {"um": "uma", "dois": "duas"}  # hours are feminine (as horas): "uma hora", "vinte e duas"
_EN_UNITS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
)  # fmt: skip
_EN_TENS = {20: "twenty", 30: "thirty", 40: "forty", 50: "fifty"}


def _pt_number(n: int, feminine: bool = False) -> str:
    """0-59 in Portuguese words ("vinte e um"; feminine: "vinte e uma")."""
    tens, unit = divmod(n, 10)
    if n < 20:
        word = _PT_UNITS[n]
        return _PT_FEMININE.get(word, word) if feminine else word
    if unit == 0:
        return _PT_TENS[tens * 10]
    return f"{_PT_TENS[tens * 10]} e {_pt_number(unit, feminine)}"


def _en_number(n: int) -> str:
    """0-59 in English words ("twenty-one")."""
    tens, unit = divmod(n, 10)
    if n < 20:
        return _EN_UNITS[n]
    return _EN_TENS[tens * 10] + ("" if unit == 0 else f"-{_EN_UNITS[unit]}")


def _pt(at: time) -> str:
    if at.hour >= 20 and at.minute:  # "às vinte e duas horas e cinco", not "às vinte e duas e cinco"
        return f"às {_pt_number(at.hour, feminine=True)} horas e {_pt_number(at.minute)}"
    minutes = "" if at.minute == 0 else " e meia" if at.minute == 30 else f" e {_pt_number(at.minute)}"
    if at.hour == 0:
        return f"à meia-noite{minutes}"
    if at.hour == 12:
        return f"ao meio-dia{minutes}"
    hour = _pt_number(at.hour, feminine=True)
    if at.hour == 1:
        return "à uma hora" if not minutes else f"à uma{minutes}"
    return f"às {hour} horas" if not minutes else f"às {hour}{minutes}"


def _en(at: time) -> str:
    if at.minute == 0 and at.hour in (0, 12):
        return "at midnight" if at.hour == 0 else "at noon"
    hour = _en_number(at.hour % 12 or 12)
    if at.minute == 0:
        return f"at {hour} o'clock"
    minutes = _en_number(at.minute) if at.minute >= 10 else f"oh {_en_number(at.minute)}"
    return f"at {hour} {minutes}"


def at_time(at: time, language: str) -> str:
    """The time of day `at` (hours and minutes) in words, with its preposition, in `language` (pt or en)."""
    return _en(at) if language == "en" else _pt(at)


def number_words(n: int, language: str, feminine: bool = False) -> str:
    """A number from 0 to 59 in words in `language` (pt: "vinte e um", feminine "vinte e uma"; en: "twenty-one")."""
    if not 0 <= n <= 59:
        raise ValueError(f"{n} is outside 0-59")
    return _en_number(n) if language == "en" else _pt_number(n, feminine)

"""Understand reminder requests ("me lembra de tomar o remédio às oito", "remind me to call Ana in 10 minutes")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from papo.text import fold

_PT_NUMBERS = {
    "zero": 0, "um": 1, "uma": 1, "dois": 2, "duas": 2, "tres": 3, "quatro": 4, "cinco": 5, "seis": 6,
    "sete": 7, "oito": 8, "nove": 9, "dez": 10, "onze": 11, "doze": 12, "treze": 13, "quatorze": 14,
    "catorze": 14, "quinze": 15, "dezesseis": 16, "dezessete": 17, "dezoito": 18, "dezenove": 19,
    "vinte": 20, "trinta": 30, "quarenta": 40, "cinquenta": 50,
}  # fmt: skip
_EN_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
}  # fmt: skip
_WORDS = {**_PT_NUMBERS, **_EN_NUMBERS}
_WORD = "|".join(_WORDS)
_NUMBER = rf"(?:\d{{1,2}}|(?:{_WORD})(?: e (?:{_WORD}))?)(?![a-gi-z0-9])"

_REQUEST = re.compile(r"\b(?:me lembr[ae]|lembre-me|me avis[ae]|remind me)\b(?: de| para| pra| to| that)?\s*(.*)")
_RELATIVE = re.compile(
    rf"\b(?:daqui a|daqui|em|dentro de|in)\s+({_NUMBER}|meia)\s+(segundos?|minutos?|horas?|seconds?|minutes?|hours?)\b"
)
_CLOCK = re.compile(
    rf"\b(?:as|a|at)\s+({_NUMBER})(?:\s*(?:horas?\s*e?|h|:)\s*({_NUMBER}|meia)?)?"
    r"(?:\s*(?:horas?|h|o'?clock))?(?:\s+(?:e\s+)?(meia|quinze))?"
    r"(?:\s+(da manha|da tarde|da noite|de manha|de tarde|de noite|am|pm|in the morning|in the evening|tonight))?"
)
_NAMED = re.compile(r"\b(meio-dia|meio dia|meia-noite|meia noite|noon|midnight)\b")
_TOMORROW = re.compile(r"\b(amanha|tomorrow)\b")


@dataclass(frozen=True)
class ReminderRequest:
    """What to remind of and when (local time)."""

    what: str
    due_at: datetime


def _number(token: str) -> int:
    if token.isdigit():
        return int(token)
    if token == "meia":
        return 30
    return sum(_WORDS[part] for part in token.split(" e "))


def _clock_time(match: re.Match[str]) -> tuple[int, int, str | None]:
    hour = _number(match.group(1))
    minute = _number(match.group(2)) if match.group(2) else 0
    if match.group(3) == "meia":
        minute = 30
    elif match.group(3) == "quinze":
        minute = 15
    return hour, minute, match.group(4)


def _next_at(now: datetime, hour: int, minute: int, period: str | None, tomorrow: bool) -> datetime:
    if period in ("da tarde", "da noite", "de tarde", "de noite", "pm", "in the evening", "tonight") and hour < 12:
        hour += 12
    hours = [hour] if period is not None or hour >= 12 else [hour, hour + 12]
    day = now.replace(second=0, microsecond=0) + timedelta(days=1 if tomorrow else 0)
    candidates = [day.replace(hour=h % 24, minute=minute) for h in hours]
    candidates += [c + timedelta(days=1) for c in candidates]
    later = [c for c in candidates if c > now]
    return min(later)


def parse_reminder(text: str, now: datetime) -> ReminderRequest | None:
    """The reminder asked for in `text`, or None when it asks for none (or gives no time)."""
    plain = fold(text)
    original = text if len(text) == len(plain) else plain
    request = _REQUEST.search(plain)
    if request is None:
        return None
    due: datetime | None = None
    when: re.Match[str] | None
    if (when := _RELATIVE.search(plain)) is not None:
        amount, unit = _number(when.group(1)), when.group(2)
        seconds = amount * (3600 if unit.startswith(("hora", "hour")) else 60 if unit.startswith("min") else 1)
        due = now + timedelta(seconds=seconds)
    elif (when := _NAMED.search(plain)) is not None:
        hour = 12 if when.group(1) in ("meio-dia", "meio dia", "noon") else 0
        due = _next_at(now, hour, 0, "named", _TOMORROW.search(plain) is not None)
    elif (when := _CLOCK.search(plain, request.start())) is not None or (when := _CLOCK.search(plain)) is not None:
        hour, minute, period = _clock_time(when)
        if hour > 23 or minute > 59:
            return None
        due = _next_at(now, hour, minute, period, _TOMORROW.search(plain) is not None)
    if due is None or when is None:
        return None
    start, end = request.span(1)
    what = original[start:end]
    if start <= when.start() < end:
        what = original[start : when.start()] + " " + original[when.end() : end]
    return ReminderRequest(_tidy(what), due)


def _tidy(what: str) -> str:
    what = re.sub(r"\b(amanhã|amanha|tomorrow)\b", " ", what, flags=re.IGNORECASE)
    what = re.sub(r"\s+(ao|às|as|à|a|at|em|in|on)$", "", re.sub(r"\s+", " ", what).strip(" ,.!?"))
    return what or "o seu lembrete"

"""Everyday questions answered exactly, without the language model.

The time, the date, the name, "repete", the reminders, the memories, "para", and "fala mais devagar / mais rápido /
mais alto / mais baixo".
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from papo.conversation.spoken_time import at_time, number_words
from papo.text import fold


class Intent(StrEnum):
    """What an everyday question asks for."""

    TIME = "time"
    DATE = "date"
    NAME = "name"
    REPEAT = "repeat"
    REMINDERS = "reminders"
    MEMORIES = "memories"
    STOP = "stop"
    SLOWER = "slower"
    FASTER = "faster"
    LOUDER = "louder"
    SOFTER = "softer"


_POLITE = r"(?:\b(?:e|papo|por favor|please|ai|entao|me diz|me diga|me fala|voce sabe|sabe|tell me|agora|now)\b[\s,]*)*"
_SPEAK = r"(?:(?:voce )?(?:pode |poderia |consegue )?(?:fala|fale|falar)\s+)?(?:um (?:pouco|pouquinho|pouco) )?"
_PATTERNS: tuple[tuple[Intent, re.Pattern[str]], ...] = tuple(
    (intent, re.compile(rf"^{_POLITE}(?:{pattern})(?:[\s,]+{_POLITE})?$"))
    for intent, pattern in (
        (
            Intent.TIME,
            r"que horas? (?:sao|e)(?: agora)?|que horas tem|what time is it|what's the time|what is the time",
        ),
        (
            Intent.DATE,
            r"que dia (?:e|eh) hoje|que dia da semana e hoje|qual (?:e )?a data(?: de hoje)?|que data e hoje"
            r"|hoje e que dia|what day is (?:it|today)|what(?:'s| is) the date(?: today)?|what is today",
        ),
        (Intent.NAME, r"qual (?:e )?o seu nome|como voce se chama|quem e voce|what(?:'s| is) your name|who are you"),
        (
            Intent.REPEAT,
            r"repete|repita|pode repetir|o que voce disse|nao entendi|say (?:that|it) again|repeat|what did you say",
        ),
        (
            Intent.REMINDERS,
            r"quais sao os meus lembretes|que lembretes eu tenho|tenho (?:algum )?lembrete"
            r"|what are my reminders|do i have (?:any )?reminders",
        ),
        (
            Intent.STOP,
            r"(?:para|pare|chega|silencio|fica quiet[oa]|fique quiet[oa]|cala a boca|stop|be quiet|quiet|enough)"
            r"(?: de falar)?",
        ),
        (Intent.SLOWER, rf"{_SPEAK}(?:mais )?(?:devagar|devagarinho|lento|pausado)|slow down|speak (?:more )?slowly"),
        (Intent.FASTER, rf"{_SPEAK}mais (?:rapido|depressa|ligeiro)|speak faster|faster"),
        (
            Intent.LOUDER,
            rf"{_SPEAK}mais alto(?: que eu nao (?:escuto|ouco|estou ouvindo|to ouvindo))?"
            r"|aumenta(?:r)? o (?:volume|som)|(?:eu )?nao (?:estou|to) (?:te )?ouvindo(?: direito)?|speak up|louder",
        ),
        (
            Intent.SOFTER,
            rf"{_SPEAK}mais baixo|(?:abaixa|abaixe|diminui|diminua)(?:r)? o (?:volume|som)"
            r"|speak (?:more )?softly|softer",
        ),
        (
            Intent.MEMORIES,
            r"o que voce (?:lembra|sabe) (?:de|sobre) mim|do que voce lembra de mim"
            r"|what do you (?:remember|know) about me",
        ),
    )
)
_MAX_WORDS = 12  # a longer sentence is a conversation that happens to contain the words, for the model


def recognise(text: str) -> Intent | None:
    """The everyday question `text` asks, if it is one (said on its own, not inside a longer sentence)."""
    plain = re.sub(r"[^\w\s']", " ", fold(text))
    plain = re.sub(r"\s+", " ", plain).strip()
    if not plain or len(plain.split()) > _MAX_WORDS:
        return None
    for intent, pattern in _PATTERNS:
        if pattern.search(plain):
            return intent
    return None


_PT_WEEKDAYS = ("segunda-feira", "terça-feira", "quarta-feira", "quinta-feira", "sexta-feira", "sábado", "domingo")
_PT_MONTHS = (
    "janeiro", "fevereiro", "março", "abril", "maio", "junho",
    "julho", "agosto", "setembro", "outubro", "novembro", "dezembro",
)  # fmt: skip
_EN_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_EN_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_EN_ORDINALS = {
    1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", 6: "sixth", 7: "seventh", 8: "eighth",
    9: "ninth", 10: "tenth", 11: "eleventh", 12: "twelfth", 13: "thirteenth", 14: "fourteenth", 15: "fifteenth",
    16: "sixteenth", 17: "seventeenth", 18: "eighteenth", 19: "nineteenth", 20: "twentieth", 30: "thirtieth",
}  # fmt: skip


def _pt_period(hour: int) -> str:
    if hour < 5:
        return "da madrugada"
    if hour < 12:
        return "da manhã"
    if hour < 18:
        return "da tarde"
    return "da noite"


def time_now(now: datetime, language: str) -> str:
    """The time as a person says it: "São oito e quinze da manhã", "É meio-dia e meia", "It's eight fifteen."."""
    if language == "en":
        hour = number_words(now.hour % 12 or 12, "en")
        if now.minute == 0:
            special = {0: "midnight", 12: "noon"}.get(now.hour)
            return f"It's {special}." if special else f"It's {hour} o'clock."
        minutes = number_words(now.minute, "en") if now.minute >= 10 else f"oh {number_words(now.minute, 'en')}"
        return f"It's {hour} {minutes}."
    minutes = "" if now.minute == 0 else " e meia" if now.minute == 30 else f" e {number_words(now.minute, 'pt')}"
    if now.hour in (0, 12):
        return f"É {'meia-noite' if now.hour == 0 else 'meio-dia'}{minutes}."
    twelve = now.hour % 12 or 12
    hour = number_words(twelve, "pt", feminine=True)
    said = f"{hour}{minutes}" if minutes else f"{hour} hora{'' if twelve == 1 else 's'}"
    verb = "É" if twelve == 1 else "São"
    return f"{verb} {said} {_pt_period(now.hour)}."


def date_today(now: datetime, language: str) -> str:
    """The weekday and date: "Hoje é segunda-feira, trinta de novembro.", "Today is Monday, November thirtieth."."""
    if language == "en":
        day = _EN_ORDINALS.get(now.day)
        if day is None:
            tens, unit = divmod(now.day, 10)
            day = f"{number_words(tens * 10, 'en')}-{_EN_ORDINALS[unit]}"
        return f"Today is {_EN_WEEKDAYS[now.weekday()]}, {_EN_MONTHS[now.month - 1]} {day}."
    day = "primeiro" if now.day == 1 else number_words(now.day, "pt")
    return f"Hoje é {_PT_WEEKDAYS[now.weekday()]}, {day} de {_PT_MONTHS[now.month - 1]}."


def my_name(name: str, language: str) -> str:
    """How Papo says its name."""
    if language == "en":
        return f"My name is {name}. I'm here to chat with you."
    return f"Meu nome é {name}. Estou aqui para conversar com você."


def nothing_to_repeat(language: str) -> str:
    """The answer to "repete" before Papo has said anything."""
    return "I haven't said anything yet." if language == "en" else "Eu ainda não disse nada."


_LISTED = 3  # a spoken list longer than this is hard to follow: the rest is counted


def _when(due_local: datetime, now_local: datetime, language: str) -> str:
    at = at_time(due_local.time(), language)
    days = (due_local.date() - now_local.date()).days
    if days == 0:
        return ("today " if language == "en" else "hoje ") + at
    if days == 1:
        return ("tomorrow " if language == "en" else "amanhã ") + at
    if language == "en":
        return f"on {_EN_WEEKDAYS[due_local.weekday()]} {at}"
    return f"{_PT_WEEKDAYS[due_local.weekday()]} {at}"


def reminders_said(reminders: list[tuple[str, datetime]], now_local: datetime, language: str) -> str:
    """The pending reminders (what, when in local time), the next ones first: "Você tem dois lembretes: …"."""
    if not reminders:
        return "You have no reminders." if language == "en" else "Você não tem nenhum lembrete."
    count = len(reminders)
    listed = "; ".join(f"{what}, {_when(due, now_local, language)}" for what, due in reminders[:_LISTED])
    more = count - _LISTED
    if language == "en":
        head = "You have one reminder" if count == 1 else f"You have {number_words(min(count, 59), 'en')} reminders"
        tail = f"; and {more} more" if more > 0 else ""
        return f"{head}: {listed}{tail}."
    words = number_words(min(count, 59), "pt")
    head = "Você tem um lembrete" if count == 1 else f"Você tem {words} lembretes"
    tail = f"; e mais {number_words(min(more, 59), 'pt')}" if more > 0 else ""
    return f"{head}: {listed}{tail}."


def memories_said(memories: list[str], language: str) -> str:
    """What Papo remembers of the person, the latest first: "Eu lembro que …"."""
    if not memories:
        if language == "en":
            return "I don't remember anything about you yet. Tell me about yourself!"
        return "Ainda não guardei nada sobre você. Me conte um pouco da sua vida!"
    listed = "; ".join(memory.rstrip(" .;!") for memory in memories[:_LISTED])
    return f"I remember this: {listed}." if language == "en" else f"Eu lembro disto: {listed}."

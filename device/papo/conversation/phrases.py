"""What the companion says without asking the LLM: fallbacks, confirmations, urgent care, reminders."""

from __future__ import annotations

from datetime import datetime

from papo.conversation.spoken_time import at_time
from papo.conversation.wellbeing import WellbeingSign
from papo.store import Severity

FALLBACK = {
    "pt": "Não consegui pensar agora, pode repetir?",
    "en": "I couldn't think just now, could you say that again?",
}
WARMING_UP = {
    "pt": "Estou acordando ainda, me dá só um instante e fala de novo?",
    "en": "I'm still waking up, give me a moment and say that again?",
}
# Asked aloud when a sign of trouble is overheard in speech not said to the companion. A question only: it
# claims nothing was done (the wellbeing event is queued, but whether anyone is told depends on sync).
CHECK_IN = {
    "pt": "Ouvi algo que me preocupou. Está tudo bem com você?",
    "en": "I heard something that worried me. Are you all right?",
}
# Papo says only what is true: no caregiver alert exists yet (issue 14 builds it), so no answer claims one.
_URGENT = {
    "emergency": {
        "pt": (
            "Estou aqui com você. Ainda não consigo avisar ninguém por você. "
            "Se puder, ligue para o SAMU, cento e noventa e dois."
        ),
        "en": "I'm here with you. I can't alert anyone for you yet. If you can, call emergency services.",
    },
    "fall": {
        "pt": (
            "Você caiu? Fique calma, não tente levantar depressa. Se puder, ligue para o SAMU, cento e noventa e dois."
        ),
        "en": "Did you fall? Stay calm and don't get up too fast. If you can, call emergency services.",
    },
    "unwell": {
        "pt": (
            "Sinto muito que você não está bem. Quer me contar o que está sentindo? "
            "Se for urgente, ligue para o SAMU, cento e noventa e dois."
        ),
        "en": "I'm sorry you're not feeling well. Can you tell me what you feel? If urgent, call emergency services.",
    },
}


def urgent_reply(sign: WellbeingSign, language: str) -> str | None:
    """The immediate, fixed answer to a high or critical sign (None for milder ones)."""
    if sign.severity not in (Severity.HIGH, Severity.CRITICAL):
        return None
    return _URGENT.get(sign.kind, _URGENT["unwell"])[language]


def reminder_confirmation(what: str, due_local: datetime, now_local: datetime, language: str) -> str:
    """The confirmation of a new reminder, with its time (and day, if not today)."""
    clock = due_local.strftime("%H:%M")
    if language == "en":
        day = "" if due_local.date() == now_local.date() else " tomorrow"
        return f"All right, I'll remind you to {what} at {clock}{day}."
    day = "" if due_local.date() == now_local.date() else " amanhã"
    return f"Combinado, vou te lembrar de {what} às {clock}{day}."


def reminder_due(what: str, language: str) -> str:
    """The spoken reminder."""
    return f"Lembrete: está na hora de {what}." if language == "pt" else f"Reminder: it's time to {what}."


def reminder_missed(what: str, due_local: datetime, language: str) -> str:
    """The one mention of a reminder missed (overdue past the grace), with its time in words."""
    at = at_time(due_local.time(), language)
    if language == "en":
        return f"You had a reminder {at}: {what}."
    return f"Você tinha um lembrete {at}: {what}."

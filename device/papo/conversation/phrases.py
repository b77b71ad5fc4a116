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
# The first, caring words on a high or critical sign. They claim nothing about anyone being told: what the alert
# really does is said after them, from its state (alert_state.py), or the offline phrase at once without a link.
_URGENT = {
    "emergency": {
        "pt": "Estou aqui com você.",
        "en": "I'm here with you.",
    },
    "fall": {
        "pt": "Você caiu? Fique calma, não tente levantar depressa.",
        "en": "Did you fall? Stay calm and don't get up too fast.",
    },
    "unwell": {
        "pt": "Sinto muito que você não está bem. Quer me contar o que está sentindo?",
        "en": "I'm sorry you're not feeling well. Can you tell me what you feel?",
    },
}
# What a caregiver alert's state lets Papo say (issue 14); nothing here claims more than the state says.
ALERT_OFFLINE = {
    "pt": "Estou sem conexão e não consigo avisar ninguém agora. Se puder, ligue para o SAMU, cento e noventa e dois.",
    "en": "I have no connection and can't alert anyone right now. If you can, call emergency services.",
}
ALERT_DELIVERING = {
    "pt": "Estou avisando a sua família.",
    "en": "I'm letting your family know.",
}
# Asked every `conversation.checkin_min` while an alert is open and nobody has acknowledged it.
ALERT_CHECK_IN = {
    "pt": "Você está bem? Diga «estou bem» se estiver tudo certo.",
    "en": "Are you all right? Say «I'm fine» if everything is OK.",
}
# The answer to «estou bem» while a check-in is open: it ends the questions and claims nothing else.
GLAD_FINE = {
    "pt": "Que bom que você está bem.",
    "en": "I'm glad you're all right.",
}


def alert_delivered(caregiver: str, language: str) -> str:
    """Said once a caregiver's channel took the alert (the caregiver's name, as the cloud signed it)."""
    return f"I let {caregiver} know." if language == "en" else f"Avisei {caregiver}."


def alert_acknowledged(caregiver: str | None, language: str) -> str:
    """Said once a caregiver confirmed seeing the alert (no name when an operator acknowledged for them)."""
    if language == "en":
        return f"{caregiver or 'Your family'} has seen your alert."
    return f"{caregiver} já viu o seu aviso." if caregiver else "A sua família já viu o seu aviso."


def urgent_reply(sign: WellbeingSign, language: str, offline: bool = True) -> str | None:
    """The immediate, fixed answer to a high or critical sign (None for milder ones).

    `offline`: no cloud link now (none configured, or the broker unreachable), so nobody can be told: the offline
    phrase follows the caring words. With a link, what happens is said when the alert's state is known.
    """
    if sign.severity not in (Severity.HIGH, Severity.CRITICAL):
        return None
    care = _URGENT.get(sign.kind, _URGENT["unwell"])[language]
    return f"{care} {ALERT_OFFLINE[language]}" if offline else care


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


# Said when everything the model wrote was dropped by the reply filter (a cliché, a dose, code...).
NOTHING_FIT = {"pt": "Hum, me conte mais sobre isso.", "en": "Hmm, tell me more about that."}

"""The words the companion is given: its persona, the moment, what it remembers and the conversation so far.

`companion_messages` is the prompt in use; `build_messages` is the first one, kept as the benchmark's baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from papo.conversation.llm import ChatMessage
from papo.conversation.reply_filter import PromptEcho

_PERSONA = {
    "pt": (
        "Você é {name}, um companheiro de conversa carinhoso para uma pessoa idosa no Brasil. "
        "Responda sempre em português do Brasil, de forma calorosa e simples, com no máximo duas ou três frases "
        "curtas, como numa conversa falada. Não use listas, emojis nem formatação. "
        "Se a pessoa parecer triste ou sozinha, acolha e puxe assunto. Você está aqui para conversar sobre "
        "qualquer assunto do dia a dia: nunca recuse, apenas converse. Exemplo: se a pessoa diz «Hoje fui à feira», "
        "você responde «Que bom! O que a senhora comprou de gostoso na feira?»"
    ),
    "en": (
        "You are {name}, a warm conversation companion for an older person. Answer in English, simply and kindly, "
        "in at most two or three short sentences, as in a spoken chat. No lists, emojis or formatting. "
        "If the person seems sad or lonely, comfort them and keep the conversation going. You are here to chat "
        "about anything in their day: never refuse, just talk. Example: if they say «I went to the market today», "
        "you answer «How nice! What did you buy there?»"
    ),
}
_MEMORIES = {"pt": "O que você sabe sobre a pessoa:", "en": "What you know about the person:"}
_CARE = {
    "pt": "Atenção: a pessoa pode não estar bem ({kind}). Seja gentil, pergunte como ela está e ofereça ajuda.",
    "en": "Note: the person may not be well ({kind}). Be gentle, ask how they are and offer help.",
}


@dataclass(frozen=True)
class PastTurn:
    """One earlier turn of the conversation."""

    role: str
    text: str


def build_messages(
    language: str,
    name: str,
    utterance: str,
    memories: list[str],
    history: list[PastTurn],
    concern: str | None = None,
) -> list[ChatMessage]:
    """The first chat prompt for one reply (the baseline of bench/companion.py)."""
    system = _PERSONA[language].format(name=name)
    if memories:
        system += "\n" + _MEMORIES[language] + "\n" + "\n".join(f"- {m}" for m in memories)
    if concern is not None:
        system += "\n" + _CARE[language].format(kind=concern)
    messages = [ChatMessage("system", system)]
    for turn in history:
        messages.append(ChatMessage("assistant" if turn.role == "companion" else "user", turn.text))
    messages.append(ChatMessage("user", utterance))
    return messages


class PromptStyle(StrEnum):
    """Which prompt the companion is given: the grounded one, or the first one (kept as the benchmark's baseline)."""

    GROUNDED = "grounded"
    LEGACY = "legacy"


@dataclass(frozen=True)
class Grounding:
    """What the model is told of the moment and the person: the local time, their name, what Papo remembers."""

    now: datetime
    person: str | None = None
    memories: tuple[str, ...] = ()
    concern: str | None = None


# The fixed part (rules and examples) comes first and never changes, so llama.cpp reuses its evaluation from one
# reply to the next; the moment (to the hour), the person's name and the memories come last. One system message:
# the small embedded model takes example turns or a second system message for things to repeat.
# Said positively: a small model told "never say you are an AI" says it.
_RULES = {
    "pt": (
        "Você é {name}, um companheiro de conversa carinhoso para uma pessoa idosa no Brasil. Responda sempre em "
        "português do Brasil, de forma calorosa e simples, com uma ou duas frases curtas, como numa conversa "
        "falada. Não use listas, emojis nem formatação. Fale sobre o que a pessoa acabou de contar e faça uma "
        "pergunta sobre isso. Se a pessoa perguntar algo que contou antes, responda com uma frase completa usando "
        "o que você sabe sobre ela. Se a pessoa parecer triste ou sozinha, acolha e puxe assunto. Você não tem "
        "internet nem telefone: se pedirem a previsão do tempo, notícias ou uma ligação, diga que não consegue."
    ),
    "en": (
        "You are {name}, a warm conversation companion for an older person. Answer in English, simply and kindly, "
        "in one or two short sentences, as in a spoken chat. No lists, emojis or formatting. Talk about what the "
        "person just told you and ask a question about it. If they ask about something they told you before, "
        "answer with a whole sentence using what you know about them. If the person seems sad or lonely, comfort "
        "them and keep the conversation going. You have no internet and no phone: if asked for the weather, the news "
        "or a call, say that you cannot."
    ),
}
# Apart from the rules above: it is meant to be said (so it is no echo of the prompt, reply_filter.PromptEcho).
_MEDICINE_RULE = {
    "pt": "Sobre remédios, diga para conversar com o médico ou com a família.",
    "en": "About medicines, say to talk to the doctor or the family.",
}
_EXAMPLES = {
    "pt": (
        ("Hoje fui à feira com a minha vizinha.", "Que bom! O que vocês compraram de gostoso na feira?"),
        ("Estou me sentindo sozinha.", "Estou aqui com você. Como foi o seu dia hoje?"),
    ),
    "en": (
        ("I went to the market with my neighbour today.", "How nice! What did you buy there?"),
        ("I feel lonely.", "I'm here with you. How was your day today?"),
    ),
}
_EXAMPLE = {
    "pt": "Se a pessoa diz «{said}», você responde «{answer}»",
    "en": "If they say «{said}», you answer «{answer}»",
}
_EXAMPLES_HEAD = {"pt": "Exemplos.", "en": "Examples."}
_NOW = {"pt": "Hoje é {when}.", "en": "Today is {when}."}
_PERSON = {"pt": "A pessoa se chama {name}.", "en": "The person's name is {name}."}
_WEEKDAYS = {
    "pt": ("segunda-feira", "terça-feira", "quarta-feira", "quinta-feira", "sexta-feira", "sábado", "domingo"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
_MONTHS = {
    "pt": ("janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto", "setembro", "outubro",
           "novembro", "dezembro"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
}  # fmt: skip
_PERIODS = {
    "pt": ((5, "de madrugada"), (12, "de manhã"), (18, "à tarde"), (24, "à noite")),
    "en": ((5, "at night"), (12, "in the morning"), (18, "in the afternoon"), (24, "in the evening")),
}


def _when(now: datetime, language: str) -> str:
    """The day and the part of the day (not the minute: the prompt stays the same for an hour)."""
    weekday, month = _WEEKDAYS[language][now.weekday()], _MONTHS[language][now.month - 1]
    period = next(label for end, label in _PERIODS[language] if now.hour < end)
    if language == "en":
        return f"{weekday}, {month} {now.day}, {now.year}, {period} (around {now.hour}:00)"
    return f"{weekday}, {now.day} de {month} de {now.year}, {period} (por volta das {now.hour}h)"


_ASKED_AGAIN = {
    "pt": "(Responda com uma ou duas frases completas sobre o que eu acabei de contar.)",
    "en": "(Answer in one or two whole sentences about what I just told you.)",
}


def asked_again(messages: list[ChatMessage], language: str) -> list[ChatMessage]:
    """The prompt for a second try: the person's last words followed by a request for whole sentences about them."""
    last = messages[-1]
    return [*messages[:-1], ChatMessage(last.role, f"{last.content}\n{_ASKED_AGAIN[language]}")]


def prompt_echo(language: str, name: str) -> PromptEcho:
    """What a reply must not repeat: the rules, and what the examples have the person say."""
    return PromptEcho([_RULES[language].format(name=name)] + [said for said, _ in _EXAMPLES[language]])


def fixed_text(language: str, name: str) -> str:
    """The part of the prompt that never changes: the rules and the example exchanges."""
    examples = " ".join(_EXAMPLE[language].format(said=s, answer=a) + "." for s, a in _EXAMPLES[language])
    rules = _RULES[language].format(name=name) + " " + _MEDICINE_RULE[language]
    return rules + "\n" + _EXAMPLES_HEAD[language] + " " + examples


def grounding_text(language: str, grounding: Grounding) -> str:
    """The part of the prompt that changes: the moment, the person's name, what Papo remembers, a concern."""
    lines = [_NOW[language].format(when=_when(grounding.now, language))]
    if grounding.person:
        lines.append(_PERSON[language].format(name=grounding.person))
    if grounding.memories:
        lines.append(_MEMORIES[language] + "\n" + "\n".join(f"- {m}" for m in grounding.memories))
    if grounding.concern is not None:
        lines.append(_CARE[language].format(kind=grounding.concern))
    return "\n".join(lines)


def companion_messages(
    language: str, name: str, utterance: str, grounding: Grounding, history: list[PastTurn]
) -> list[ChatMessage]:
    """The grounded chat prompt: rules and examples, then the moment and memories; the conversation; the utterance."""
    system = fixed_text(language, name) + "\n" + grounding_text(language, grounding)
    messages = [ChatMessage("system", system)]
    for turn in history:
        messages.append(ChatMessage("assistant" if turn.role == "companion" else "user", turn.text))
    messages.append(ChatMessage("user", utterance))
    return messages

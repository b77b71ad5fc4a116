"""The words the companion is given: its persona, what it remembers and the conversation so far."""

from __future__ import annotations

from dataclasses import dataclass

from papo.conversation.llm import ChatMessage

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
    """The chat prompt for one reply."""
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

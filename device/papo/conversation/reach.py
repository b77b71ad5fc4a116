"""Requests Papo cannot do, answered honestly without the model.

The weather, the news or the traffic, a call or a message, and how much of a medicine to take (only a doctor or a
pharmacist may say; Papo never says a dose).
"""

from __future__ import annotations

import re
from enum import StrEnum

from papo.text import fold


class OutOfReach(StrEnum):
    """What the person asked for that Papo has no way to do."""

    WEATHER = "weather"
    NEWS = "news"
    CALL = "call"
    MEDICINE = "medicine"


_PATTERNS = {
    OutOfReach.WEATHER: re.compile(
        r"\b(?:previsao do tempo|vai chover|vai fazer (?:frio|calor|sol)|como (?:vai estar|vai ficar|esta|ta) o tempo"
        r"|qual (?:e )?a temperatura|quantos graus|weather|will it rain|is it going to rain)\b"
    ),
    OutOfReach.NEWS: re.compile(
        r"\b(?:noticias?|(?:as|das) novidades do (?:mundo|brasil)"
        r"|o que (?:aconteceu|esta acontecendo) no (?:mundo|brasil)|quem ganhou o jogo|resultado do jogo"
        r"|(?:o )?placar do jogo|(?:o )?transito (?:na|no|da|do|de|em|hoje|agora)|tem transito"
        r"|news|who won the game|(?:the )?traffic (?:in|on|like|today|now))\b"
    ),
    OutOfReach.CALL: re.compile(
        r"\b(?:(?:liga|ligue|ligar|telefona|telefone|telefonar)\s+(?:para|pra|pro|a|o)\b|faz(?:er)? uma ligacao"
        r"|(?:manda|mande|mandar|envia|envie|enviar)\s+(?:uma\s+)?(?:mensagem|recado|zap|whatsapp)"
        r"|call my|phone my|send a message|text my)"
    ),
    OutOfReach.MEDICINE: re.compile(
        r"\b(?:quantos?|quantas?|quanto de|qual (?:a )?dose|que dose|qual remedio|que remedio|posso tomar|devo tomar"
        r"|tomo mais|posso aplicar|devo aplicar|sera que (?:eu )?(?:tomo|aplico)|e bom (?:eu )?tomar"
        r"|how much|how many|which medicine|can i take|should i take)\b"
        r".*\b(?:remedios?|comprimidos?|capsulas?|gotas?|doses?|insulina|paracetamol|dipirona|ibuprofeno|aspirina"
        r"|antibioticos?|anti[ -]?inflamatorios?|calmantes?|tomo|tomar|aplicar|medicine|pills?|tablets?"
        r"|aspirin|insulin)\b"
    ),
}
_ASKING = re.compile(r"\b(?:papo|voce|pode|consegue|sabe|me diz|me fala|quero|queria|por favor|can you|could you)\b")
_ANSWERS = {
    "pt": {
        OutOfReach.WEATHER: "Isso eu não consigo saber: não tenho a previsão do tempo. Como está o dia aí pela janela?",
        OutOfReach.NEWS: "Não consigo ver as notícias nem o trânsito, não tenho internet. Qual assunto você tem "
        "acompanhado?",
        OutOfReach.MEDICINE: "Sobre remédio e dose, quem pode dizer é o seu médico ou o farmacêutico, eu não consigo. "
        "Quer que eu lembre você de perguntar a eles?",
        OutOfReach.CALL: "Não consigo fazer ligações nem mandar mensagens. Posso lembrar você de ligar mais tarde, se "
        "quiser.",
    },
    "en": {
        OutOfReach.WEATHER: "I can't know that: I have no weather forecast. How does the day look from your window?",
        OutOfReach.NEWS: "I can't see the news or the traffic, I have no internet. What have you been following?",
        OutOfReach.MEDICINE: "About medicine and doses, only your doctor or pharmacist can say; I can't. Shall I "
        "remind you to ask them?",
        OutOfReach.CALL: "I can't make calls or send messages. I can remind you to call later, if you like.",
    },
}
_MAX_WORDS = 16  # a longer sentence is a story that mentions the weather or a call, for the model


def out_of_reach(text: str) -> OutOfReach | None:
    """What `text` asks Papo to do that it cannot, if it is such a request (a question, or asked of Papo)."""
    plain = re.sub(r"\s+", " ", re.sub(r"[^\w\s?]", " ", fold(text))).strip()
    if not plain or len(plain.split()) > _MAX_WORDS:
        return None
    asking = "?" in text or _ASKING.search(plain) is not None or plain.split()[0] in ("liga", "ligue", "manda")
    for kind, pattern in _PATTERNS.items():
        if asking and pattern.search(plain):
            return kind
    return None


def cannot(kind: OutOfReach, language: str) -> str:
    """The honest answer: what Papo cannot do, and a way to go on talking."""
    return _ANSWERS[language][kind]

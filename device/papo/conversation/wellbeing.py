"""Signs of distress, a fall, an emergency or loneliness in what the person said; no LLM needed."""

from __future__ import annotations

import re
from dataclasses import dataclass

from papo.store.kinds import Severity
from papo.text import fold


@dataclass(frozen=True)
class WellbeingSign:
    """What was noticed, how serious it is, and the evidence: the matched phrase only, never the words around it."""

    kind: str
    severity: Severity
    evidence: str


# (kind, severity, patterns) checked in order; accents and case are ignored.
_RULES: list[tuple[str, Severity, list[str]]] = [
    (
        "emergency",
        Severity.CRITICAL,
        [
            r"\bsocorro\b",
            r"\bme ajud[ae]m?\b",
            r"\bchama (a |uma )?(ambulancia|samu|policia|bombeiros?)\b",
            r"\bnao (consigo|to conseguindo|estou conseguindo) respirar\b",
            r"\bdor no peito\b",
            r"\binfarto\b",
            r"\bhelp me\b",
            r"\bcall (an )?ambulance\b",
            r"\bcan'?t breathe\b",
            r"\bchest pain\b",
            r"\bemergency\b",
        ],
    ),
    (
        "fall",
        Severity.HIGH,
        [
            r"^cai\b",
            r"\beu cai\b",
            r"\bcai (no chao|da cama|da escada|no banheiro)\b",
            r"\blevei um tombo\b",
            r"\bnao consigo (me )?levantar\b",
            r"\bescorreguei\b",
            r"\bi fell\b",
            r"\bi(ve| have) fallen\b",
            r"\bcan'?t get up\b",
        ],
    ),
    (
        "unwell",
        Severity.HIGH,
        [
            r"\b(estou|to|tô) passando mal\b",
            r"\bpassando muito mal\b",
            r"\bdesmai",
            r"\btontura\b",
            r"\bto tonta?\b",
            r"\bestou ton[ta]o?\b",
            r"\bmuita dor\b",
            r"\bi feel (very )?(sick|dizzy|faint)\b",
            r"\bi(m| am) in pain\b",
        ],
    ),
    (
        "distress",
        Severity.MEDIUM,
        [
            r"\bnao aguento mais\b",
            r"\bestou (com|sentindo) (muito )?medo\b",
            r"\bto com medo\b",
            r"\bquero morrer\b",
            r"\bsem vontade de viver\b",
            r"\bi(m| am) (so )?scared\b",
            r"\bi want to die\b",
        ],
    ),
    (
        "loneliness",
        Severity.LOW,
        [
            r"\b(me sinto|estou|to|tô) (muito |tao )?(sozinh[ao]|solitari[ao])\b",
            r"\bninguem (me )?(visita|liga)\b",
            r"\bsaudade de (conversar|alguem)\b",
            r"\bi(m| am| feel) (so |very )?(lonely|alone)\b",
        ],
    ),
]
_COMPILED = [(kind, severity, [re.compile(p) for p in patterns]) for kind, severity, patterns in _RULES]


def assess(text: str) -> WellbeingSign | None:
    """The most serious sign in `text`, or None; its evidence is the phrase a rule matched (accents, case folded)."""
    plain = fold(text)
    for kind, severity, patterns in _COMPILED:
        for pattern in patterns:
            match = pattern.search(plain)
            if match is not None:
                return WellbeingSign(kind, severity, match.group(0))
    return None


# "estou bem" and close variants (accents and case folded), said as the answer to a check-in; a negation is not one.
_FINE = re.compile(
    r"\b(?:(?:eu )?(?:estou|to|ta|esta) (?:bem|otim[oa]|legal)|tudo (?:bem|certo|ok) (?:comigo|aqui)"
    r"|i'?m (?:fine|ok|okay|all right|alright)|i am (?:fine|ok|okay|all right|alright))\b"
)
_NOT_FINE = re.compile(r"\b(?:nao|nem|not)\b")


def says_fine(text: str) -> bool:
    """Whether `text` says the person is all right ("estou bem", "tô bem", "tudo bem comigo", "I'm fine"...)."""
    plain = fold(text)
    return _FINE.search(plain) is not None and _NOT_FINE.search(plain) is None

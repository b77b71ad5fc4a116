"""Text helpers shared by the rules and the checks: accent and case folding, words, repetition."""

from __future__ import annotations

import re
import unicodedata


def fold(text: str) -> str:
    """Lower-case `text` and strip its accents ("Não caí" → "nao cai"), so rules match however it was written."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """The folded words of `text`, without punctuation ("Bom dia, Papo!" → ["bom", "dia", "papo"])."""
    return re.findall(r"[a-z0-9']+", fold(text))


def repeats_itself(text: str) -> bool:
    """Whether `text` says something twice (a sign of a decoding loop).

    A word or two repeated back to back ("bonchia bonchia", "estou bem estou bem"), or a run of three
    words that comes again ("Vou fazer pipoca. Vou fazer pipoca").
    Speech does this too ("não, não"), so a caller treats it as a reason to look again, not to reject.
    """
    tokens = words(text)
    for size in (1, 2):
        for start in range(len(tokens) - 2 * size + 1):
            if tokens[start : start + size] == tokens[start + size : start + 2 * size]:
                return True
    runs = [tuple(tokens[start : start + 3]) for start in range(len(tokens) - 2)]
    return len(set(runs)) < len(runs)

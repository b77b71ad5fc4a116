"""The wake word found as a person would expect, in whatever spelling the transcript gives it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

from papo.text import fold

_VOWEL_SOUNDS = {"o": "[ou]", "u": "[ou]", "e": "[ei]", "i": "[ei]"}


@cache
def wake_pattern(word: str) -> re.Pattern[str]:
    """A pattern for `word` as Whisper may write it.

    Any accent or case ("Pápo"), a doubled letter, an unstressed final vowel heard the other way ("papu"),
    or glued to the word before it ("Oipapo", "Parapapo").
    """
    letters = [c for c in fold(word) if c.isalnum()]
    if not letters:
        raise ValueError(f"a wake word needs letters: {word!r}")
    *body, last = letters
    core = "".join(f"{re.escape(c)}+" for c in body) + f"{_VOWEL_SOUNDS.get(last, re.escape(last))}+"
    return re.compile(rf"\b[a-z]*{core}\b")


def mentions(text: str, wake_words: Sequence[str]) -> bool:
    """Whether `text` names one of `wake_words` (an empty list: every text does)."""
    if not wake_words:
        return True
    folded = " ".join(re.findall(r"[a-z0-9]+", fold(text)))
    return any(wake_pattern(word).search(folded) is not None for word in wake_words)

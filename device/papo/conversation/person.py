"""The person's name, as they said it themselves ("meu nome é Maria", "pode me chamar de dona Rosa")."""

from __future__ import annotations

import re
from collections.abc import Iterable

_SAID = re.compile(
    r"\b(?:meu nome [eé]|me chamo|pode me chamar de|me chama de|my name is|call me|i'm called)\s+"
    r"((?:(?:dona|seu|sr\.?|sra\.?)\s+)?[A-ZÀ-Ý][\wÀ-ÿ'-]+(?:\s+[A-ZÀ-Ý][\wÀ-ÿ'-]+)?)",
    re.IGNORECASE,
)
_NOT_NAMES = {"papo", "de", "da", "do", "e", "que", "and", "the"}


def person_name(texts: Iterable[str]) -> str | None:
    """The name the person gave for themselves in the first of `texts` (newest first) that gives one."""
    for text in texts:
        match = _SAID.search(text)
        if match is None:
            continue
        words = [w for w in match.group(1).split() if w.lower() not in _NOT_NAMES]
        kept = [w for w in words if w[:1].isupper() or w.lower() in ("dona", "seu")]
        if kept and kept[-1][:1].isupper():
            return " ".join(kept)
    return None

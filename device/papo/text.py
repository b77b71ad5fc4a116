"""Text helpers shared by the rules and the checks: accent and case folding."""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """Lower-case `text` and strip its accents ("Não caí" → "nao cai"), so rules match however it was written."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))

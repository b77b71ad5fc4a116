"""Cut a reply that is still being written into sentences, so the first can be spoken at once."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

_END = re.compile(r"([.!?…;:]+)(\s+|$)")
_MIN_CHARS = 12
_MAX_CHARS = 220
_SHORT_ENDS = "!?…"


def sentences(pieces: Iterable[str]) -> Iterator[str]:
    """Yield whole sentences as soon as their end is seen; very long runs are cut at a comma or space."""
    buffer = ""
    for piece in pieces:
        buffer += piece
        while True:
            cut = _cut_point(buffer)
            if cut is None:
                break
            sentence, buffer = buffer[:cut].strip(), buffer[cut:]
            if sentence:
                yield sentence
    if buffer.strip():
        yield buffer.strip()


def _cut_point(buffer: str) -> int | None:
    for match in _END.finditer(buffer):
        # the end must be followed by whitespace we have seen, and the sentence must not be a stub ("Dr.")
        if match.group(2) and _whole(buffer[: match.start(1)], match.group(1)):
            return match.end()
    if len(buffer) > _MAX_CHARS:
        comma = buffer.rfind(", ", 0, _MAX_CHARS)
        space = buffer.rfind(" ", 0, _MAX_CHARS)
        return (comma + 2) if comma > _MIN_CHARS else (space + 1 if space > 0 else _MAX_CHARS)
    return None


def _whole(before: str, mark: str) -> bool:
    """Whether the text before an end mark is a sentence, not an abbreviation ("Sr.", "Dr.").

    Long enough, or a short exclamation or question ("Que bom!", "Tudo bem?"): that is said at once rather than
    kept waiting for the next sentence.
    """
    return len(before) + len(mark) >= _MIN_CHARS or (mark[0] in _SHORT_ENDS and len(before.strip()) >= 2)

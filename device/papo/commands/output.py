"""How commands write to the person: one line at a time, flushed at once."""

from __future__ import annotations

import json


def say(text: str) -> None:
    """Print one line (or block) for the person running the command."""
    print(text, flush=True)


def say_json(data: object) -> None:
    """Print `data` as indented JSON (non-ASCII kept readable)."""
    say(json.dumps(data, ensure_ascii=False, indent=2))

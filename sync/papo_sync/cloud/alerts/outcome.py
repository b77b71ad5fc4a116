"""The result of one delivery attempt, whatever the channel."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    """Whether the channel took the message; if not, whether trying again may help, and why (never the words)."""

    ok: bool
    retryable: bool = False
    detail: str = ""

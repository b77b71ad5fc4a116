"""Time-ordered unique ids (48-bit milliseconds + 80 random bits, hex), sortable like UUIDv7."""

from __future__ import annotations

import secrets
import time


def new_id() -> str:
    """Return a new 32-character id that sorts by creation time."""
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(10)}"

"""The record of settings changed on the page: who, when, key, old → new (secrets masked), as JSON lines (0600)."""

from __future__ import annotations

import json
import os
import re
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

MASK = "••••••"
# Keys whose values are never written down: a password, a key, a token, credentials (or where they are kept).
_SECRET = re.compile(r"password|secret|token|api_key|credential|tls_key", re.IGNORECASE)


class ChangeEntry(BaseModel):
    """One setting changed: who, when, which key, its value before and after (masked when secret)."""

    at: datetime
    who: str
    key: str
    old: Any = None
    new: Any = None


def changes_path(state_dir: Path) -> Path:
    """The change log in `state_dir`."""
    return state_dir / "settings-changes.jsonl"


def masked(key: str, value: Any) -> Any:
    """`value`, or the mask when `key` names a secret (a set value only: None stays None)."""
    return MASK if value is not None and _SECRET.search(key) else value


def record(state_dir: Path, who: str, changes: list[tuple[str, Any, Any]]) -> list[ChangeEntry]:
    """Append one line per (key, old, new) change, masked; the entries written."""
    now = datetime.now(UTC)
    entries = [ChangeEntry(at=now, who=who, key=k, old=masked(k, old), new=masked(k, new)) for k, old, new in changes]
    if not entries:
        return entries
    descriptor = os.open(changes_path(state_dir), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
        handle.writelines(entry.model_dump_json() + "\n" for entry in entries)
    return entries


def recent(state_dir: Path, limit: int = 50) -> list[ChangeEntry]:
    """The latest `limit` changes, newest first (lines that do not parse are skipped)."""
    path = changes_path(state_dir)
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as handle:
        lines = deque(handle, maxlen=limit)
    entries = []
    for line in reversed(lines):
        try:
            entries.append(ChangeEntry.model_validate(json.loads(line)))
        except ValueError:
            continue
    return entries

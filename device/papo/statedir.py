"""The state directory (store, models, cache): created on demand, with a clear error when it is not writable."""

from __future__ import annotations

import os
from pathlib import Path

from papo.errors import PapoError


class StateDirError(PapoError):
    """The state directory cannot be created or written."""


def writable_dir(path: Path, purpose: str) -> Path:
    """Create `path` if needed and check papo may write there; raise StateDirError saying how to fix it."""
    hint = "set PAPO_STATE_DIR to a writable directory or fix its permissions"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StateDirError(f"cannot create the {purpose} directory {path}: {exc.strerror}; {hint}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise StateDirError(f"the {purpose} directory {path} is read-only; {hint}")
    return path

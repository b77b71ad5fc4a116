"""The web page's private files in the state directory: written whole (0600, aside then renamed), read as JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from papo import statedir


def web_dir(state_dir: Path) -> Path:
    """The directory of the web page's secrets (owner hash, setup code hash, signing key), private to papo's user."""
    path = state_dir / "web"
    if not path.is_dir():
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        _give_to_service_user(path)
    return path


def _give_to_service_user(path: Path) -> None:
    """Run as root (`sudo papo setup-code`), hand what was written to the state directory's owner (the service)."""
    if os.geteuid() != 0:
        return
    owner = path.parent.stat() if path.is_dir() else path.parent.parent.stat()
    os.chown(path, owner.st_uid, owner.st_gid)


def write_private(path: Path, data: bytes) -> None:
    """Replace `path` with `data`, readable by papo's user only; never half-written (and papo's when run as root)."""
    statedir.write_private(path, data)
    _give_to_service_user(path)


def write_json(path: Path, value: dict[str, Any]) -> None:
    """Write a JSON object privately (see write_private)."""
    write_private(path, json.dumps(value, sort_keys=True).encode())


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in `path`, or None when it is missing or unreadable."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def secret_key(state_dir: Path) -> str:
    """The page's signing key (CSRF tokens): made once, kept so tokens survive a restart."""
    path = web_dir(state_dir) / "secret"
    try:
        key = path.read_text(encoding="ascii").strip()
    except OSError:
        key = ""
    if len(key) < 64:
        key = os.urandom(32).hex()
        write_private(path, key.encode())
    return key

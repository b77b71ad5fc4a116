"""The owner account: one per device, an Argon2id password hash in the state directory, never the password."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from papo.web.security.files import read_json, web_dir, write_json
from papo.web.security.passwords import hash_password, verify_password


@dataclass(frozen=True)
class Owner:
    """Who owns the device: a display name and the id sessions are bound to (new at every claim)."""

    name: str
    owner_id: str
    password_hash: str
    created_at: float


class OwnerFile:
    """Reads, creates and removes the owner record (`web/owner.json`, mode 0600)."""

    def __init__(self, state_dir: Path) -> None:
        self.path = web_dir(state_dir) / "owner.json"
        self._cached: tuple[tuple[int, int, int], Owner | None] | None = None

    def get(self) -> Owner | None:
        """The owner, or None while the device is not claimed (read again only when the file changed)."""
        try:
            info = self.path.stat()
        except OSError:
            return None
        key = (info.st_ino, info.st_mtime_ns, info.st_size)
        if self._cached is None or self._cached[0] != key:
            self._cached = (key, self._read())
        return self._cached[1]

    def _read(self) -> Owner | None:
        record = read_json(self.path)
        if record is None or not isinstance(record.get("password_hash"), str):
            return None
        return Owner(
            name=str(record.get("name", "")),
            owner_id=str(record.get("owner_id", "")),
            password_hash=record["password_hash"],
            created_at=float(record.get("created_at", 0.0)),
        )

    def exists(self) -> bool:
        """Whether the device has been claimed."""
        return self.path.exists()

    def create(self, name: str, password: str) -> Owner:
        """Make `name` the owner with `password` (hashed with Argon2id)."""
        owner = Owner(name, secrets.token_hex(16), hash_password(password), time.time())
        write_json(self.path, {"name": owner.name, "owner_id": owner.owner_id,
                               "password_hash": owner.password_hash, "created_at": owner.created_at})  # fmt: skip
        return owner

    def change_password(self, password: str) -> Owner:
        """Give the owner a new password (and a new id, so every other session ends)."""
        owner = self.get()
        if owner is None:
            raise FileNotFoundError(self.path)
        return self.create(owner.name, password)

    def verify(self, password: str) -> Owner | None:
        """The owner if `password` is theirs, else None."""
        owner = self.get()
        return owner if owner is not None and verify_password(owner.password_hash, password) else None

    def remove(self) -> bool:
        """Remove the owner (setup reopens); whether there was one."""
        existed = self.path.exists()
        self.path.unlink(missing_ok=True)
        return existed

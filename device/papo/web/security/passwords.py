"""The owner's password: Argon2id hashes, and the rules a new password must meet (length, not a common one)."""

from __future__ import annotations

from functools import cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from papo.web.i18n import N_

MIN_LENGTH = 10
MAX_LENGTH = 256

_hasher = PasswordHasher()  # Argon2id with the library's RFC 9106 "low memory" parameters (64 MiB, 3 passes)


@cache
def common_passwords() -> frozenset[str]:
    """The bundled list of the most common passwords (English and pt-BR), lower-case."""
    text = resources.files("papo.web.security").joinpath("common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def password_problem(password: str) -> str | None:
    """Why `password` may not be the owner's (in Portuguese: the msgid shown on the page), or None if it may."""
    if len(password) < MIN_LENGTH:
        return N_("A senha precisa de pelo menos 10 caracteres.")
    if len(password) > MAX_LENGTH:
        return N_("A senha pode ter no máximo 256 caracteres.")
    if password.lower() in common_passwords() or len(set(password)) <= 2:
        return N_("Esta senha é comum demais e fácil de adivinhar; escolha outra.")
    return None


def hash_password(password: str) -> str:
    """The Argon2id hash of `password` (the only form it is kept in)."""
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    """Whether `password` matches the stored Argon2id hash."""
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False

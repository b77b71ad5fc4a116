"""The fleet's signing key on the cloud host: made once (0600), read to sign, its public half given to devices."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from papo_sync.signing import generate_private_key, key_id, load_private_key, public_pem, write_private_key


class FleetKeyError(Exception):
    """The fleet's signing key is missing or unusable; the message says what to do."""


def public_key_path(private: Path) -> Path:
    """Where the public half of the key in `private` is written: the same name ending in .pub."""
    return private.with_suffix(".pub")


def create_fleet_key(path: Path) -> str:
    """Make a new signing key at `path` (0600) and its public key next to it; its key id. Never replaces one."""
    key = generate_private_key()
    try:
        write_private_key(path, key)
    except FileExistsError:
        raise FleetKeyError(
            f"{path} exists: devices trust it; a new key would make them refuse the fleet (move it away first)"
        ) from None
    public_key_path(path).write_bytes(public_pem(key.public_key()))
    return key_id(key.public_key())


def ensure_fleet_key(path: Path) -> bool:
    """Make the signing key at `path` unless there is one; whether it was made."""
    if path.exists():
        return False
    create_fleet_key(path)
    return True


def fleet_key(path: Path) -> Ed25519PrivateKey:
    """The fleet's signing key; FleetKeyError saying how to make one if it is missing or is not one."""
    try:
        if path.stat().st_mode & 0o077:
            raise FleetKeyError(f"the fleet signing key {path} can be read by other users; run: chmod 600 {path}")
        return load_private_key(path)
    except FileNotFoundError:
        raise FleetKeyError(
            f"no fleet signing key at {path}: run `papo-cloud fleet keygen` (or set PAPO_CLOUD_FLEET_SIGNING_KEY)"
        ) from None
    except (OSError, ValueError) as exc:
        raise FleetKeyError(f"the fleet signing key {path} cannot be used: {exc}") from None


def fleet_public_pem(path: Path) -> bytes:
    """The public key (PEM) of the signing key at `path`, for a device's credentials."""
    return public_pem(fleet_key(path).public_key())

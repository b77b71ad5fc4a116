"""The fleet's Ed25519 signatures on desired state, commands and alert updates: keys, signing, checking.

What is signed is the exact UTF-8 bytes of `SignedMessage.body` (a `SignedBody` as JSON), after a domain
prefix, so neither end re-serialises anything before checking. A body names its tenant and device, when it
was issued and until when it holds, and a sequence (a desired state's version; a command's issue time in
microseconds). Replays of a body that checks out are the device's to refuse (`papo_sync.device.gate`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import ValidationError

from papo_sync.protocol import AlertUpdate, Command, DesiredState, SignedBody, SignedMessage

DOMAIN = b"papo/v1 fleet signature\n"
"""Prefix of every signed byte string: a fleet signature can never be taken for a signature of anything else."""
CLOCK_SKEW = timedelta(minutes=2)
"""How far the device's clock may be from the fleet's: tolerated both on `issued_at` and on `expires_at`."""
MAX_COMMAND_LIFETIME = timedelta(days=1)
"""A command is valid for at most this long (the device remembers its id until then, to refuse a replay)."""
MAX_ALERT_LIFETIME = timedelta(days=1)
"""An alert update is valid for at most this long: an old "delivered" must not be replayed into a new alert."""


class SignatureError(Exception):
    """A desired state or command the device must not act on; the message is the reason it reports."""


def generate_private_key() -> Ed25519PrivateKey:
    """A new fleet signing key."""
    return Ed25519PrivateKey.generate()


def private_pem(key: Ed25519PrivateKey) -> bytes:
    """The private key as unencrypted PKCS#8 PEM (kept in a 0600 file on the cloud host)."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_pem(key: Ed25519PublicKey) -> bytes:
    """The public key as SubjectPublicKeyInfo PEM (copied to each device with its credentials)."""
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id(key: Ed25519PublicKey) -> str:
    """A short fingerprint of a public key (16 hex digits of SHA-256 of its raw bytes), to tell keys apart."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def write_private_key(path: Path, key: Ed25519PrivateKey) -> None:
    """Write `key` to a new file only its owner can read; refuse (FileExistsError) to replace one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(private_pem(key))


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read the fleet's signing key; ValueError if the file is not an Ed25519 private key."""
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Read the fleet's public key (PEM); ValueError if the file is not an Ed25519 public key."""
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} is not an Ed25519 public key")
    return key


def sign(body: SignedBody, key: Ed25519PrivateKey) -> SignedMessage:
    """The message to publish: `body` as JSON, its signature and the signing key's id."""
    text = body.model_dump_json()
    signature = key.sign(DOMAIN + text.encode())
    return SignedMessage(body=text, signature=base64.b64encode(signature).decode(), key_id=key_id(key.public_key()))


def sign_desired(
    desired: DesiredState, tenant: str, device_id: str, key: Ed25519PrivateKey, issued_at: datetime, ttl: timedelta
) -> SignedMessage:
    """A desired state for one device, valid from `issued_at` for `ttl`; its version is its sequence."""
    body = SignedBody(
        kind="desired", tenant=tenant, device_id=device_id, issued_at=issued_at, expires_at=issued_at + ttl,
        sequence=desired.version, desired=desired,
    )  # fmt: skip
    return sign(body, key)


def sign_command(
    command: Command, tenant: str, device_id: str, key: Ed25519PrivateKey, issued_at: datetime
) -> SignedMessage:
    """A command for one device, valid until its `expires_at` (required); its issue time is its sequence."""
    if command.expires_at is None:
        raise ValueError("a signed command needs expires_at")
    body = SignedBody(
        kind="command", tenant=tenant, device_id=device_id, issued_at=issued_at, expires_at=command.expires_at,
        sequence=int(issued_at.timestamp() * 1_000_000), command=command,
    )  # fmt: skip
    return sign(body, key)


def sign_alert(
    update: AlertUpdate, tenant: str, device_id: str, key: Ed25519PrivateKey, issued_at: datetime, ttl: timedelta
) -> SignedMessage:
    """An alert update for one device, valid from `issued_at` for `ttl` (a day at most); its `seq` is its sequence."""
    body = SignedBody(
        kind="alert", tenant=tenant, device_id=device_id, issued_at=issued_at, expires_at=issued_at + ttl,
        sequence=update.seq, alert=update,
    )  # fmt: skip
    return sign(body, key)


def open_signed(payload: bytes, key: Ed25519PublicKey, tenant: str, device_id: str, now: datetime) -> SignedBody:
    """The body of a signed message for this device, checked; SignatureError (with the reason) otherwise.

    Checked in this order: it is a signed message at all, the signature is the fleet key's over the exact body,
    the body names this tenant and device, and `now` is within [issued_at - CLOCK_SKEW, expires_at + CLOCK_SKEW].
    """
    try:
        message = SignedMessage.model_validate_json(payload)
    except ValidationError:
        raise SignatureError("unsigned: not a message signed by the fleet key") from None
    try:
        signature = base64.b64decode(message.signature, validate=True)
        key.verify(signature, DOMAIN + message.body.encode())
    except (InvalidSignature, binascii.Error, ValueError):
        raise SignatureError(f"bad signature: not signed by this device's fleet key ({key_id(key)})") from None
    try:
        body = SignedBody.model_validate_json(message.body)
    except ValidationError as exc:
        raise SignatureError(f"signed, but not a valid request: {str(exc)[:200]}") from None
    if (body.tenant, body.device_id) != (tenant, device_id):
        raise SignatureError(f"signed for another device ({body.tenant}/{body.device_id})")
    check_times(body, now)
    return body


def check_times(body: SignedBody, now: datetime) -> None:
    """SignatureError unless `now` is within the body's validity, give or take CLOCK_SKEW (the clock skew rule)."""
    if body.issued_at - CLOCK_SKEW > now:
        issued = body.issued_at.astimezone(UTC)
        raise SignatureError(f"issued in the future ({issued:%Y-%m-%d %H:%M:%S} UTC): check the device's clock (NTP)")
    if body.expires_at + CLOCK_SKEW < now:
        raise SignatureError(f"expired at {body.expires_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC")
    if body.kind == "command" and body.expires_at - body.issued_at > MAX_COMMAND_LIFETIME:
        raise SignatureError("a command may be valid for one day at most")
    if body.kind == "alert" and body.expires_at - body.issued_at > MAX_ALERT_LIFETIME:
        raise SignatureError("an alert update may be valid for one day at most")

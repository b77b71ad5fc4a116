"""Mosquitto configuration for a Papo fleet: per-device credentials, tenant-bound ACLs and separate cloud roles.

Every account sees only what its job needs: a device its own `papo/v1/{tenant}/{device}/` topics (in the
directions it uses them), the `ingest` role what devices report and the acks, the `fleet` role the desired
state and commands. Password entries are hashed here (PBKDF2-SHA512, Mosquitto 2's `$7$` format), so no
password ever appears on a command line.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import signal
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from papo_sync.connection import is_loopback
from papo_sync.protocol import TOPIC_ROOT, device_prefix

CONFIG_TEMPLATE = """\
# Papo Social broker (Mosquitto 2). Anonymous clients are refused; every device has its own password.
per_listener_settings false
user {run_as}
allow_anonymous false
password_file {password_file}
acl_file {acl_file}
pid_file {pid_file}
persistence true
persistence_location {data_dir}/
max_packet_size {max_packet_size}
max_queued_messages 10000
set_tcp_nodelay true
{listeners}"""

TLS_TEMPLATE = """\
cafile {ca}
certfile {cert}
keyfile {key}
require_certificate false
"""

_HASH_ITERATIONS = 101  # Mosquitto 2's own default; the passwords are 256-bit random, not guessable words


class Role(StrEnum):
    """A cloud account's job on the broker."""

    INGEST = "ingest"
    FLEET = "fleet"


# (access, topic below papo/v1/{tenant}/{device}/) for each role, over every tenant and device
_ROLE_RULES: dict[Role, tuple[tuple[str, str], ...]] = {
    Role.INGEST: (
        ("read", "sync/up"), ("read", "state"), ("read", "telemetry"), ("read", "shadow/update"),
        ("read", "cmd/+/result"), ("write", "sync/ack"),
    ),
    Role.FLEET: (("write", "shadow/delta"), ("write", "cmd/+"), ("read", "cmd/+/result"), ("write", "alert")),
}  # fmt: skip
# what a device publishes (agent.py, inbox.py) and what it subscribes to, under its own prefix only
DEVICE_RULES: tuple[tuple[str, str], ...] = (
    ("write", "state"), ("write", "sync/up"), ("write", "telemetry"), ("write", "shadow/update"),
    ("write", "cmd/+/result"), ("read", "sync/ack"), ("read", "shadow/delta"), ("read", "cmd/+"), ("read", "alert"),
)  # fmt: skip


class TlsFiles(BaseModel):
    """The broker's certificate files (PEM): the CA that signed it, the certificate and its private key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ca: Path
    cert: Path
    key: Path


class Listener(BaseModel):
    """Where the broker listens: a loopback bind may be plaintext, any other needs TLS."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    port: int = Field(ge=1, le=65535)
    bind: str = "127.0.0.1"
    tls: TlsFiles | None = None


def render_listeners(listeners: list[Listener]) -> str:
    """The listener blocks; ValueError for a plaintext listener that is not on loopback."""
    blocks = []
    for listener in listeners:
        if listener.tls is None and not is_loopback(listener.bind):
            raise ValueError(
                f"a listener on {listener.bind}:{listener.port} needs TLS (certificate and key); "
                "plaintext is only allowed on 127.0.0.1"
            )
        block = f"listener {listener.port} {listener.bind}\n"
        if listener.tls is not None:
            block += TLS_TEMPLATE.format(ca=listener.tls.ca, cert=listener.tls.cert, key=listener.tls.key)
        blocks.append(block)
    return "".join(blocks)


def _rules(user: str, prefix: str, rules: tuple[tuple[str, str], ...]) -> str:
    lines = [f"user {user}", *(f"topic {access} {prefix}/{topic}" for access, topic in rules)]
    return "\n".join(lines) + "\n"


def render_acl(cloud_users: Mapping[str, Role], devices: Mapping[str, str]) -> str:
    """The ACL: each cloud user its role's topics, each device (id → tenant) only its own prefix; no patterns."""
    blocks = [
        "# Papo Social broker ACL (written by papo-cloud; edits are overwritten). Nothing is allowed unless listed."
    ]
    blocks += [_rules(user, f"{TOPIC_ROOT}/+/+", _ROLE_RULES[role]) for user, role in sorted(cloud_users.items())]
    blocks += [_rules(d, device_prefix(t, d), DEVICE_RULES) for d, t in sorted(devices.items())]
    return "\n".join(blocks)


def hash_password(password: str, salt: bytes | None = None) -> str:
    """A Mosquitto 2 password-file hash (`$7$`: PBKDF2-HMAC-SHA512) of `password`."""
    salt = secrets.token_bytes(12) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, _HASH_ITERATIONS)
    return f"$7${_HASH_ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def _write_private(path: Path, text: str) -> None:
    """Replace `path` with `text` atomically: a new file is its owner's only, a replaced one keeps owner and mode.

    Keeping them matters: the broker reads these files again on SIGHUP as its own user (e.g. root:mosquitto 0640).
    """
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
        if path.exists():
            old = path.stat()
            os.fchmod(file.fileno(), old.st_mode & 0o777)
            if (old.st_uid, old.st_gid) != (os.geteuid(), os.getegid()):
                os.fchown(file.fileno(), old.st_uid, old.st_gid)
    temporary.replace(path)


class BrokerFiles:
    """The broker's directory: mosquitto.conf, the hashed password file, the ACL and the pid file."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.config = directory / "mosquitto.conf"
        self.passwords = directory / "passwd"
        self.acl = directory / "acl"
        self.pid_file = directory / "mosquitto.pid"

    def hashes(self) -> dict[str, str]:
        """The password file's entries: user → hash."""
        if not self.passwords.exists():
            return {}
        entries = (line.split(":", 1) for line in self.passwords.read_text().splitlines() if ":" in line)
        return {user: hashed for user, hashed in entries}

    def set_hashes(self, hashes: Mapping[str, str]) -> None:
        """Rewrite the password file with these user → hash entries."""
        _write_private(self.passwords, "".join(f"{user}:{hashed}\n" for user, hashed in sorted(hashes.items())))

    def set_password(self, user: str, password: str) -> None:
        """Add or replace one user's entry."""
        self.set_hashes({**self.hashes(), user: hash_password(password)})

    def remove_user(self, user: str) -> bool:
        """Remove one user's entry; whether it was there."""
        hashes = self.hashes()
        found = hashes.pop(user, None) is not None
        self.set_hashes(hashes)
        return found

    def write_acl(self, cloud_users: Mapping[str, Role], devices: Mapping[str, str]) -> None:
        """Rewrite the ACL for these cloud users and enrolled devices."""
        _write_private(self.acl, render_acl(cloud_users, devices))

    def reload(self) -> bool:
        """Ask the running broker to read its password file and ACL again (SIGHUP); False if none runs here."""
        try:
            pid = int(self.pid_file.read_text().strip())
            os.kill(pid, signal.SIGHUP)
        except (OSError, ValueError):
            return False
        return True


def write_config(
    files: BrokerFiles, listeners: list[Listener], max_packet_size: int = 2_000_000, run_as: str = "mosquitto"
) -> Path:
    """Write mosquitto.conf for `files`' directory (ValueError for a plaintext listener off loopback); its path."""
    data = files.directory / "data"
    data.mkdir(parents=True, exist_ok=True)
    files.config.write_text(
        CONFIG_TEMPLATE.format(
            password_file=files.passwords, acl_file=files.acl, pid_file=files.pid_file, data_dir=data,
            listeners=render_listeners(listeners), max_packet_size=max_packet_size, run_as=run_as,
        )
    )  # fmt: skip
    return files.config


def write_broker_files(
    directory: Path,
    listeners: list[Listener],
    users: Mapping[str, str],
    cloud_users: Mapping[str, Role],
    devices: Mapping[str, str],
    max_packet_size: int = 2_000_000,
    run_as: str = "mosquitto",
) -> Path:
    """Write mosquitto.conf, the password file (`users`: name → password, hashed) and the ACL; the config's path.

    `cloud_users` gives each cloud account its role, `devices` each device its tenant.
    """
    directory.mkdir(parents=True, exist_ok=True)
    files = BrokerFiles(directory)
    files.set_hashes({user: hash_password(password) for user, password in users.items()})
    files.write_acl(cloud_users, devices)
    return write_config(files, listeners, max_packet_size, run_as)

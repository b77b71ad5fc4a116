"""Enrolling devices: a password and exact ACL lines on the broker, the tenant in PostgreSQL, credentials to copy.

PostgreSQL's `enrolment` table is the record of which device belongs to which tenant; the broker's ACL is
written from it, and the password file holds one hashed entry per enrolled device (and the cloud accounts).
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg.rows import dict_row
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from papo_sync.cloud.broker import BrokerFiles, Listener, Role, TlsFiles, hash_password, write_config
from papo_sync.cloud.keys import FleetKeyError, fleet_public_pem
from papo_sync.cloud.schema import enrolment, sql
from papo_sync.connection import is_loopback

CLOUD_ACCOUNTS = {role.value: role for role in Role}  # the cloud's broker users are named after their role
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

_ACTIVE = sql(
    sa.select(enrolment.c.device_id, enrolment.c.tenant).where(enrolment.c.revoked_at.is_(None)), literal=True
)
_ALL = sql(sa.select(enrolment).order_by(enrolment.c.tenant, enrolment.c.device_id), literal=True)
_ONE = sql(sa.select(enrolment).where(enrolment.c.device_id == sa.bindparam("device_id")))
_ENROL = """
INSERT INTO enrolment (device_id, tenant, enrolled_at, revoked_at) VALUES (%(device_id)s, %(tenant)s, now(), NULL)
ON CONFLICT (device_id) DO UPDATE SET tenant = EXCLUDED.tenant, enrolled_at = now(), revoked_at = NULL
"""
_REVOKE = "UPDATE enrolment SET revoked_at = now() WHERE device_id = %(device_id)s AND revoked_at IS NULL"


class EnrolSettings(BaseSettings):
    """Where the broker's files are and what devices are told to connect to (PAPO_CLOUD_ENROL_* variables)."""

    model_config = SettingsConfigDict(env_prefix="PAPO_CLOUD_ENROL_", extra="forbid")

    broker_dir: Path = Field(default=Path("/etc/mosquitto/papo"), description="The broker's passwd, acl and pid file")
    host: str = Field(default="127.0.0.1", description="The broker's name as devices reach it")
    port: int = Field(default=8883, ge=1, le=65535, description="The broker's port as devices reach it")
    device_dir: Path = Field(default=Path("/etc/papo"), description="Where the credentials go on the device")
    device_ca: Path = Field(default=Path("/etc/papo/broker-ca.pem"), description="The broker's CA on the device")
    listen: str = Field(default="0.0.0.0", description="Where the broker listens for devices (TLS unless loopback)")
    listen_port: int = Field(default=8883, ge=1, le=65535)
    local_port: int = Field(default=1883, ge=1, le=65535, description="Plaintext port on 127.0.0.1 for the cloud")
    tls_ca: Path | None = Field(default=None, description="The broker's CA certificate (PEM)")
    tls_cert: Path | None = Field(default=None, description="The broker's certificate (PEM)")
    tls_key: Path | None = Field(default=None, description="The broker certificate's private key (PEM)")
    run_as: str = Field(default="mosquitto", description="The user the broker runs as")

    def listeners(self) -> list[Listener]:
        """The plaintext loopback listener for the cloud's services and the devices' listener (TLS off loopback)."""
        local = Listener(port=self.local_port)
        if self.tls_ca is None or self.tls_cert is None or self.tls_key is None:
            if not is_loopback(self.listen):
                raise EnrolError(
                    f"the broker listens on {self.listen}: set PAPO_CLOUD_ENROL_TLS_CA, PAPO_CLOUD_ENROL_TLS_CERT and "
                    "PAPO_CLOUD_ENROL_TLS_KEY (see docs/decisions/0012), or PAPO_CLOUD_ENROL_LISTEN=127.0.0.1"
                )
            return [local]
        tls = TlsFiles(ca=self.tls_ca, cert=self.tls_cert, key=self.tls_key)
        return [local, Listener(port=self.listen_port, bind=self.listen, tls=tls)]


class EnrolError(Exception):
    """An enrolment that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class Credentials:
    """What a newly enrolled device needs: where its settings, password and the fleet's public key were written."""

    device_id: str
    tenant: str
    password: str
    settings_file: Path
    password_file: Path
    broker_reloaded: bool
    fleet_key_file: Path | None = None


def _check_name(kind: str, name: str) -> None:
    if not _NAME.match(name):
        raise EnrolError(f"{kind} {name!r} must be 1-64 letters, digits, '-' or '_'")


def device_settings(
    device_id: str, tenant: str, host: str, port: int, password_file: Path, ca: Path | None,
    fleet_key: Path | None = None,
) -> str:  # fmt: skip
    """The device's settings (TOML for papo's settings file) that connect it as `device_id`."""
    lines = [
        f"# Papo fleet credentials of {device_id} (tenant {tenant}). Secret: keep this file and the password private.",
        f'device_id = "{device_id}"',
        "",
        "[sync]",
        "enabled = true",
        f'host = "{host}"',
        f"port = {port}",
        f'tenant = "{tenant}"',
        f'password_file = "{password_file}"',
    ]
    if ca is not None:
        lines.append(f'tls_ca = "{ca}"')
    if fleet_key is not None:
        lines.append(f'fleet_public_key = "{fleet_key}"')
    return "\n".join(lines) + "\n"


def _write_secret(path: Path, text: str) -> None:
    """Write `text` to a new or replaced file only its owner can read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
    path.chmod(0o600)  # an existing file keeps its mode on open


class Enrolment:
    """Add, revoke and list devices: PostgreSQL and the broker's files changed together."""

    def __init__(self, database_url: str, settings: EnrolSettings) -> None:
        self._settings = settings
        self._files = BrokerFiles(settings.broker_dir)
        try:
            self._db = psycopg.connect(database_url, autocommit=True, row_factory=dict_row, connect_timeout=5)
        except psycopg.OperationalError as exc:
            raise EnrolError(f"cannot reach the database: {str(exc).strip()}") from None

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    def _write_acl(self) -> None:
        devices = {str(r["device_id"]): str(r["tenant"]) for r in self._db.execute(_ACTIVE).fetchall()}
        self._files.write_acl(CLOUD_ACCOUNTS, devices)

    def add(self, device_id: str, tenant: str, out: Path, fleet_key: Path) -> Credentials:
        """Enrol (or give a new password to) `device_id` in `tenant`; write its credentials next to `out`.

        Next to them goes the public key of the fleet's signing key `fleet_key` (the device takes only the
        settings and commands it signed).
        """
        _check_name("device", device_id)
        _check_name("tenant", tenant)
        if device_id in CLOUD_ACCOUNTS:
            raise EnrolError(f"{device_id!r} is the name of a cloud account; choose another device name")
        if not self._files.directory.is_dir():
            raise EnrolError(f"no broker directory {self._files.directory} (set PAPO_CLOUD_ENROL_BROKER_DIR)")
        current = self._db.execute(_ONE, {"device_id": device_id}).fetchone()
        if current is not None and current["revoked_at"] is None and current["tenant"] != tenant:
            raise EnrolError(
                f"{device_id} is enrolled in tenant {current['tenant']!r}; "
                f"`papo-cloud devices remove {device_id}` first"
            )
        try:
            public = fleet_public_pem(fleet_key)
        except FleetKeyError as exc:
            raise EnrolError(str(exc)) from None
        password = secrets.token_urlsafe(32)
        settings = self._settings
        password_file = out.with_suffix(".password")
        on_device = settings.device_dir / password_file.name
        key_file = out.with_name(f"{out.stem}.fleet.pub")
        ca = None if is_loopback(settings.host) else settings.device_ca  # off this machine, TLS is required
        with self._db.transaction():
            self._db.execute(_ENROL, {"device_id": device_id, "tenant": tenant})
            self._files.set_password(device_id, password)
            self._write_acl()
        _write_secret(password_file, password + "\n")
        key_file.write_bytes(public)
        key_file.chmod(0o644)  # public, but nobody else may change it: papo refuses a key others can write
        key_on_device = settings.device_dir / key_file.name
        text = device_settings(device_id, tenant, settings.host, settings.port, on_device, ca, key_on_device)
        _write_secret(out, text)
        return Credentials(device_id, tenant, password, out, password_file, self._files.reload(), key_file)

    def setup_broker(self) -> dict[str, str]:
        """Write the broker's config, ACL and cloud accounts (keeping enrolled devices); new accounts' passwords."""
        settings = self._settings
        listeners = settings.listeners()
        self._files.directory.mkdir(parents=True, exist_ok=True)
        hashes = self._files.hashes()
        created = {account: secrets.token_urlsafe(32) for account in CLOUD_ACCOUNTS if account not in hashes}
        for account, password in created.items():
            _write_secret(self._files.directory / f"{account}.password", password + "\n")
        self._files.set_hashes({**hashes, **{a: hash_password(p) for a, p in created.items()}})
        self._write_acl()
        write_config(self._files, listeners, run_as=settings.run_as)
        return created

    def remove(self, device_id: str) -> bool:
        """Revoke `device_id`: its password and ACL lines go, the broker reloads; whether the broker was reloaded."""
        with self._db.transaction():
            revoked = self._db.execute(_REVOKE, {"device_id": device_id}).rowcount
            had_password = self._files.remove_user(device_id)
            if not revoked and not had_password:
                raise EnrolError(f"{device_id} is not enrolled; see `papo-cloud devices list`")
            self._write_acl()
        return self._files.reload()

    def listing(self) -> list[dict[str, Any]]:
        """Every device ever enrolled: device, tenant, when enrolled, when revoked (None while active)."""
        return list(self._db.execute(_ALL).fetchall())


def enrolled_at_text(at: datetime | None) -> str:
    """A time for the listing, or '-'."""
    return "-" if at is None else f"{at:%Y-%m-%d %H:%M}"

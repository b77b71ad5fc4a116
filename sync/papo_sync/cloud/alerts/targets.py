"""Caregivers as the CLI takes them: pydantic checks of names, e-mail addresses, URLs and secret files."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from papo_sync.connection import is_loopback

_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@(?=.{1,253}$)([A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,63}$")
_LOCAL_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@localhost$")
_TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MIN_SECRET_CHARS = 16


class CaregiverError(Exception):
    """A caregiver that cannot be added or used; the message says what to do."""


def check_url(url: str) -> str:
    """`url` if it is https (http only to this machine), with a host and no credentials; ValueError otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) URL")
    if parts.username or parts.password:
        raise ValueError("a URL must not carry a user name or password; use --secret-file")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ValueError(
            f"{url!r} is plain http to another machine: alerts would travel unencrypted; use https "
            "(http is only allowed to 127.0.0.1 / localhost)"
        )
    return url


class EmailTarget(BaseModel):
    """An e-mail address (syntax checked; delivery is the mail server's job)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channel: Literal["email"] = "email"
    address: str = Field(max_length=254)

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        value = value.strip()
        if not (_EMAIL.match(value) or _LOCAL_EMAIL.match(value)):
            raise ValueError(f"{value!r} is not an e-mail address (name@example.com)")
        return value

    @property
    def target(self) -> str:
        """What is stored as the caregiver's target."""
        return self.address


class WebhookTarget(BaseModel):
    """A webhook: https URL and the HMAC secret it is signed with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channel: Literal["webhook"] = "webhook"
    url: Annotated[str, Field(max_length=2000)]
    secret: str = Field(min_length=MIN_SECRET_CHARS, max_length=512, repr=False)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_url(value)

    @property
    def target(self) -> str:
        """What is stored as the caregiver's target."""
        return self.url


class NtfyTarget(BaseModel):
    """An ntfy topic: the server's https URL ending in the topic, and an optional access token."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channel: Literal["ntfy"] = "ntfy"
    url: Annotated[str, Field(max_length=2000)]
    secret: str | None = Field(default=None, min_length=1, max_length=512, repr=False)

    @field_validator("url")
    @classmethod
    def _topic_url(cls, value: str) -> str:
        check_url(value)
        topic = urlsplit(value).path.rstrip("/").rsplit("/", 1)[-1]
        if not _TOPIC.match(topic) or urlsplit(value).query:
            raise ValueError(f"{value!r} does not end in an ntfy topic (https://ntfy.example.org/TOPIC)")
        return value

    @property
    def target(self) -> str:
        """What is stored as the caregiver's target."""
        return self.url


Target = Annotated[EmailTarget | WebhookTarget | NtfyTarget, Field(discriminator="channel")]


class NewCaregiver(BaseModel):
    """A caregiver to add: tenant, name (said by Papo: "Avisei Ana"), order and channel."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    name: str = Field(min_length=1, max_length=80)
    position: int = Field(default=1, ge=1, le=1000)
    target: Target

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value or any(not c.isprintable() for c in value):
            raise ValueError("a name is printable text, e.g. Ana")
        return value


def read_secret_file(path: Path) -> str:
    """The secret in `path` (stripped); CaregiverError unless it exists, is readable by its owner only, not empty."""
    try:
        if path.stat().st_mode & 0o077:
            raise CaregiverError(f"{path} can be read by other users; run: chmod 600 {path}")
        value = path.read_text().strip()
    except FileNotFoundError:
        raise CaregiverError(f"no secret file {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CaregiverError(f"cannot read the secret file {path}: {exc}") from None
    if not value:
        raise CaregiverError(f"the secret file {path} is empty")
    return value


def new_secret() -> str:
    """A webhook secret (256 bits, URL-safe) for a caregiver added without one."""
    return secrets.token_urlsafe(32)


def caregiver(
    tenant: str, name: str, position: int, email: str | None, webhook: str | None, ntfy: str | None,
    secret: str | None,
) -> NewCaregiver:  # fmt: skip
    """The caregiver the CLI's options describe; CaregiverError with pydantic's first complaint otherwise."""
    target: dict[str, object]
    if email is not None:
        target = {"channel": "email", "address": email}
    elif webhook is not None:
        target = {"channel": "webhook", "url": webhook, "secret": secret}
    elif ntfy is not None:
        target = {"channel": "ntfy", "url": ntfy, "secret": secret}
    else:
        raise CaregiverError("give one channel: --email, --webhook or --ntfy")
    try:
        return NewCaregiver.model_validate({"tenant": tenant, "name": name, "position": position, "target": target})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"] if p not in ("target", "email", "webhook", "ntfy"))
        raise CaregiverError(f"{where or 'caregiver'}: {first['msg'].removeprefix('Value error, ')}") from None

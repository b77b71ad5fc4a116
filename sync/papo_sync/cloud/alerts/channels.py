"""Send a notice by a caregiver's channel (one attempt)."""

from __future__ import annotations

from dataclasses import dataclass

from papo_sync.cloud.alerts.email import send_email
from papo_sync.cloud.alerts.message import Notice
from papo_sync.cloud.alerts.ntfy import send_ntfy
from papo_sync.cloud.alerts.outcome import Outcome
from papo_sync.cloud.alerts.webhook import send_webhook
from papo_sync.cloud.settings import AlertSettings


@dataclass(frozen=True)
class Channel:
    """How one caregiver is reached: the kind, the address or URL, and the webhook secret / ntfy token."""

    kind: str
    target: str
    secret: str | None


def send(notice: Notice, channel: Channel, settings: AlertSettings, idempotency_key: str) -> Outcome:
    """One attempt at delivering `notice` through `channel`."""
    if channel.kind == "email":
        return send_email(notice, channel.target, settings.smtp, idempotency_key)
    if channel.kind == "webhook":
        if channel.secret is None:
            return Outcome(False, False, "the webhook has no secret")
        return send_webhook(notice, channel.target, channel.secret, idempotency_key, settings.http_timeout_s)
    if channel.kind == "ntfy":
        return send_ntfy(notice, channel.target, channel.secret, idempotency_key, settings.http_timeout_s)
    return Outcome(False, False, f"unknown channel {channel.kind!r}")

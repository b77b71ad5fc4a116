"""The webhook signature (HMAC-SHA256 over timestamp + "." + body) and the signed AlertUpdate to the device."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from papo_sync.cloud.alerts.message import Notice
from papo_sync.cloud.alerts.signature import signature, verify
from papo_sync.cloud.alerts.store import Update
from papo_sync.cloud.alerts.updates import signed_update
from papo_sync.cloud.alerts.webhook import request
from papo_sync.protocol import AlertState, AlertUpdate, SignedBody, SignedMessage
from papo_sync.signing import SignatureError, generate_private_key, open_signed, sign_alert

SECRET = "family-webhook-secret-0123456789"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_the_signature_is_the_hmac_of_timestamp_dot_body() -> None:
    body = b'{"alert_id":"7"}'
    expected = hmac.new(SECRET.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature(SECRET, 1_700_000_000, body) == f"sha256={expected}"


def test_verification_refuses_another_secret_a_changed_body_and_an_old_timestamp() -> None:
    body = b'{"alert_id":"7"}'
    signed = signature(SECRET, 1_700_000_000, body)
    assert verify(SECRET, "1700000000", signed, body, now=1_700_000_100)
    assert not verify("another-secret-0123456789", "1700000000", signed, body, now=1_700_000_100)
    assert not verify(SECRET, "1700000000", signed, body + b" ", now=1_700_000_100)
    assert not verify(SECRET, "1700000001", signed, body, now=1_700_000_100)  # the timestamp is signed too
    assert not verify(SECRET, "1700000000", signed, body, now=1_700_000_000 + 301)
    assert not verify(SECRET, "soon", signed, body, now=1_700_000_000)


def _notice() -> Notice:
    return Notice(
        alert_id=7, tenant="acme", device_id="dev-1", msg_id="m-1", kind="fall", severity="high", heard="eu caí",
        at=NOW, timezone="America/Sao_Paulo", caregiver="Ana", ack_url="https://alerts.example.org/ack/t", step=0,
    )  # fmt: skip


def test_a_webhook_request_is_signed_and_carries_what_was_heard_when_and_where() -> None:
    body, headers = request(_notice(), SECRET, "papo-alert-7-1", now=1_700_000_000.7)
    assert headers["X-Papo-Timestamp"] == "1700000000"
    assert verify(SECRET, headers["X-Papo-Timestamp"], headers["X-Papo-Signature"], body, now=1_700_000_000)
    assert headers["Idempotency-Key"] == "papo-alert-7-1"
    sent = json.loads(body)
    assert (sent["heard"], sent["device_id"], sent["caregiver"]) == ("eu caí", "dev-1", "Ana")
    assert sent["at_local"] == "30/11/2026 às 09:00 (America/Sao_Paulo)"
    assert sent["ack_url"] == "https://alerts.example.org/ack/t"


def test_an_alert_update_is_signed_for_one_device_and_checked_like_desired_state() -> None:
    key = generate_private_key()
    update = Update(id=1, tenant="acme", device_id="dev-1", alert_id=7, msg_id="m-1", seq=2,
                    state=AlertState.DELIVERED, caregiver="Ana", at=NOW)  # fmt: skip
    payload = signed_update(update, key, NOW, timedelta(hours=1)).encode()
    body = open_signed(payload, key.public_key(), "acme", "dev-1", NOW)
    assert body.kind == "alert" and body.sequence == 2
    assert body.alert == AlertUpdate(alert_id="7", msg_id="m-1", seq=2, state=AlertState.DELIVERED, caregiver="Ana",
                                     at=NOW)  # fmt: skip
    with pytest.raises(SignatureError, match="another device"):
        open_signed(payload, key.public_key(), "acme", "dev-2", NOW)
    with pytest.raises(SignatureError, match="bad signature"):
        open_signed(payload, generate_private_key().public_key(), "acme", "dev-1", NOW)
    forged = SignedMessage.model_validate_json(payload)
    tampered = forged.model_copy(update={"body": forged.body.replace('"Ana"', '"Eva"')})
    with pytest.raises(SignatureError, match="bad signature"):
        open_signed(tampered.model_dump_json().encode(), key.public_key(), "acme", "dev-1", NOW)
    with pytest.raises(SignatureError, match="one day at most"):
        long = sign_alert(body.alert, "acme", "dev-1", key, NOW, timedelta(days=2)).model_dump_json().encode()
        open_signed(long, key.public_key(), "acme", "dev-1", NOW)


def test_an_alert_update_names_a_caregiver_only_when_delivered_or_acknowledged() -> None:
    with pytest.raises(ValidationError, match="names the caregiver"):
        AlertUpdate(alert_id="7", msg_id="m", seq=1, state=AlertState.DELIVERED, at=NOW)
    with pytest.raises(ValidationError, match="names no caregiver"):
        AlertUpdate(alert_id="7", msg_id="m", seq=1, state=AlertState.FAILED, caregiver="Ana", at=NOW)
    assert AlertUpdate(alert_id="7", msg_id="m", seq=3, state=AlertState.ACKNOWLEDGED, at=NOW).caregiver is None
    with pytest.raises(ValidationError, match="exactly one alert"):
        SignedBody(kind="alert", tenant="acme", device_id="dev-1", issued_at=NOW, expires_at=NOW + timedelta(1),
                   sequence=1)  # fmt: skip

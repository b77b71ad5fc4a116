"""The «estou bem» update to caregivers: its words, its webhook body and headers, its keys, and the escalation rule."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

from papo_sync.cloud.alerts.email import compose
from papo_sync.cloud.alerts.message import Notice, subject, text
from papo_sync.cloud.alerts.ntfy import headers
from papo_sync.cloud.alerts.policy import delivery_key, escalation_stops
from papo_sync.cloud.alerts.signature import verify
from papo_sync.cloud.alerts.webhook import request
from papo_sync.cloud.settings import SmtpSettings

SECRET = "family-webhook-secret-0123456789"
ALERT = Notice(
    alert_id=7, tenant="acme", device_id="sala-01", msg_id="m-1", kind="fall", severity="high", heard="eu caí",
    at=datetime(2026, 11, 30, 12, 0, tzinfo=UTC), timezone="America/Sao_Paulo", caregiver="Ana",
    ack_url="https://alerts.example.org/ack/abc", step=0,
)  # fmt: skip
OK = replace(ALERT, fine_at=datetime(2026, 11, 30, 12, 4, tzinfo=UTC))


def test_the_ok_update_says_the_person_is_fine_when_about_which_alert_and_keeps_the_link() -> None:
    assert OK.update == "ok" and ALERT.update == "alert" and replace(ALERT, test=True).update == "test"
    assert subject(OK) == "Papo: a pessoa em sala-01 disse que está bem"
    said = text(OK)
    assert said.startswith("Olá, Ana.") and "disse ao Papo (sala-01) que está bem: 30/11/2026 às 09:04" in said
    assert "uma queda de 30/11/2026 às 09:00" in said and "não avisa mais ninguém" in said
    assert "https://alerts.example.org/ack/abc" in said
    assert "eu caí" not in said  # an update, not the alert again: what was heard is not repeated
    assert text(ALERT) != said and "disse que está bem" not in text(ALERT)


def test_the_webhook_body_says_it_is_an_ok_update_and_is_signed_with_its_own_key() -> None:
    body, sent = request(OK, SECRET, delivery_key(7, 3, "ok"), now=1_700_000_000)
    data = json.loads(body)
    assert (data["type"], data["update"]) == ("papo.alert.ok", "ok")
    assert data["said_fine_at"] == "2026-11-30T12:04:00+00:00" and data["alert_id"] == "7" and data["msg_id"] == "m-1"
    assert data["text"] == text(OK)
    assert sent["Idempotency-Key"] == "papo-alert-7-3-ok"
    assert verify(SECRET, sent["X-Papo-Timestamp"], sent["X-Papo-Signature"], body, now=1_700_000_010)
    plain = json.loads(request(ALERT, SECRET, delivery_key(7, 3), now=1_700_000_000)[0])
    assert (plain["type"], plain["update"], plain["said_fine_at"]) == ("papo.alert", "alert", None)


def test_each_delivery_kind_has_its_own_idempotency_key_the_same_on_every_retry() -> None:
    assert delivery_key(7, 3) == "papo-alert-7-3"  # the alert's, as before
    assert delivery_key(7, 3, "ok") == "papo-alert-7-3-ok" == delivery_key(7, 3, "ok")
    assert len({delivery_key(7, 3), delivery_key(7, 3, "ok"), delivery_key(7, 4, "ok"), delivery_key(8, 3, "ok")}) == 4


def test_the_ok_email_carries_its_key_in_the_message_id_and_says_what_it_is() -> None:
    mail = compose(OK, "ana@example.org", SmtpSettings(from_addr="papo@example.org"), "papo-alert-7-3-ok")
    assert "papo-alert-7-3-ok" in mail["Message-ID"] and mail["X-Papo-Update"] == "ok"
    assert mail["Subject"] == subject(OK) and mail.get_content() == text(OK)
    warned = compose(ALERT, "ana@example.org", SmtpSettings(from_addr="papo@example.org"), "papo-alert-7-3")
    assert "papo-alert-7-3-ok" not in warned["Message-ID"] and warned["X-Papo-Update"] == "alert"


def test_the_ok_push_is_quiet_and_still_offers_the_acknowledgement() -> None:
    made = headers(OK, None, "papo-alert-7-3-ok")
    assert made["Priority"] == "3" and made["Tags"] == "white_check_mark,papo"
    assert made["Click"] == OK.ack_url and "method=POST" in made["Actions"]
    assert headers(ALERT, None, "papo-alert-7-3")["Priority"] == "5"  # the alert itself is as urgent as before


def test_estou_bem_stops_the_escalation_only_once_somebody_was_reached() -> None:
    assert escalation_stops(fine=True, reached=True)
    assert not escalation_stops(fine=True, reached=False)  # a fall nobody knows of is still reported
    assert not escalation_stops(fine=False, reached=True)
    assert not escalation_stops(fine=False, reached=False)

"""Alert e-mail over a real SMTP server: STARTTLS when offered (the certificate checked), never plaintext off
this machine, and a pt-BR message with the phrase, the time, the device and the link."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from papo_sync.cloud.alerts import email
from papo_sync.cloud.alerts.email import send_email
from papo_sync.cloud.alerts.message import Notice
from papo_sync.cloud.settings import SmtpSettings
from support.alerts import SmtpServer
from support.broker import make_tls

pytestmark = pytest.mark.services

NOTICE = Notice(
    alert_id=7, tenant="acme", device_id="sala-01", msg_id="m-1", kind="fall", severity="high", heard="eu caí",
    at=datetime(2026, 11, 30, 12, 41, tzinfo=UTC), timezone="America/Sao_Paulo", caregiver="Ana",
    ack_url="https://alerts.example.org/ack/abc", step=0,
)  # fmt: skip


@pytest.fixture
def tls(tmp_path: Path) -> tuple[Path, Path, Path]:
    return make_tls(tmp_path / "tls")


@pytest.fixture
def tls_smtp(tls: tuple[Path, Path, Path]) -> Iterator[SmtpServer]:
    server = SmtpServer(tls=(tls[1], tls[2]))
    yield server
    server.stop()


def test_starttls_is_used_when_offered_and_the_certificate_is_checked(
    tls_smtp: SmtpServer, tls: tuple[Path, Path, Path]
) -> None:
    trusted = SmtpSettings(port=tls_smtp.port, tls_ca=tls[0], from_addr="papo@example.org")
    outcome = send_email(NOTICE, "ana@example.org", trusted, "papo-alert-7-1")
    assert outcome.ok, outcome.detail
    [mail] = tls_smtp.messages(1)
    assert mail.encrypted
    text = mail.message.get_content()
    assert '"eu caí"' in text and "30/11/2026 às 09:41" in text and "sala-01" in text and "/ack/abc" in text
    assert mail.message["X-Papo-Event"] == "m-1" and "papo-alert-7-1" in mail.message["Message-ID"]
    untrusted = SmtpSettings(port=tls_smtp.port)  # the system's CAs do not know the test CA
    refused = send_email(NOTICE, "ana@example.org", untrusted, "papo-alert-7-1")
    assert not refused.ok and "not trusted" in refused.detail
    assert len(tls_smtp.items) == 1


def test_a_server_off_this_machine_without_starttls_gets_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = SmtpServer()
    try:
        monkeypatch.setattr(email, "is_loopback", lambda _: False)  # as if 127.0.0.1 were another machine
        outcome = send_email(NOTICE, "ana@example.org", SmtpSettings(port=plain.port), "papo-alert-7-1")
        assert not outcome.ok and not outcome.retryable and "plaintext" in outcome.detail
        assert plain.items == []
    finally:
        plain.stop()


def test_an_unreachable_server_is_retried_later() -> None:
    from support.broker import free_port

    outcome = send_email(NOTICE, "ana@example.org", SmtpSettings(port=free_port(), timeout_s=2), "k")
    assert not outcome.ok and outcome.retryable and "unreachable" in outcome.detail

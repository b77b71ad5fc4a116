"""Caregivers are checked before they are stored: names, e-mail syntax, https URLs, ntfy topics, secret files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from papo_sync.cloud.alerts.message import Notice, text
from papo_sync.cloud.alerts.ntfy import header_text, headers
from papo_sync.cloud.alerts.targets import CaregiverError, caregiver, read_secret_file

SECRET = "family-webhook-secret-0123456789"


def _add(email: str | None = None, webhook: str | None = None, ntfy: str | None = None, secret: str | None = None,
         name: str = "Ana", position: int = 1) -> str:  # fmt: skip
    return caregiver("acme", name, position, email, webhook, ntfy, secret).target.target


@pytest.mark.parametrize("address", ["ana@example.org", "ana.souza+papo@mail.example.com.br", "root@localhost"])
def test_email_addresses_that_are_accepted(address: str) -> None:
    assert _add(email=address) == address


@pytest.mark.parametrize("address", ["ana", "ana@", "@example.org", "ana@example", "ana souza@example.org",
                                     "ana@exa mple.org", "ana@@example.org"])  # fmt: skip
def test_email_addresses_that_are_refused(address: str) -> None:
    with pytest.raises(CaregiverError, match="not an e-mail address"):
        _add(email=address)


def test_webhooks_must_be_https_except_to_this_machine() -> None:
    assert _add(webhook="https://gw.example.org/papo", secret=SECRET) == "https://gw.example.org/papo"
    assert _add(webhook="http://127.0.0.1:9000/hook", secret=SECRET) == "http://127.0.0.1:9000/hook"
    with pytest.raises(CaregiverError, match="use https"):
        _add(webhook="http://gw.example.org/papo", secret=SECRET)
    with pytest.raises(CaregiverError, match="not an http"):
        _add(webhook="ftp://gw.example.org/papo", secret=SECRET)
    with pytest.raises(CaregiverError, match="user name or password"):
        _add(webhook="https://user:pw@gw.example.org/papo", secret=SECRET)
    with pytest.raises(CaregiverError, match="at least 16"):
        _add(webhook="https://gw.example.org/papo", secret="short")


def test_ntfy_needs_a_topic_and_https() -> None:
    assert _add(ntfy="https://ntfy.example.org/familia-silva") == "https://ntfy.example.org/familia-silva"
    with pytest.raises(CaregiverError, match="ntfy topic"):
        _add(ntfy="https://ntfy.example.org/")
    with pytest.raises(CaregiverError, match="use https"):
        _add(ntfy="http://ntfy.example.org/familia")


def test_names_and_order_are_checked() -> None:
    assert caregiver("acme", "  Ana   Souza ", 1, "a@example.org", None, None, None).name == "Ana Souza"
    with pytest.raises(CaregiverError, match="name"):
        _add(email="a@example.org", name="   ")
    with pytest.raises(CaregiverError, match="position"):
        _add(email="a@example.org", position=0)
    with pytest.raises(CaregiverError, match="one channel"):
        _add()


def test_a_secret_file_must_be_private_and_not_empty(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    with pytest.raises(CaregiverError, match="no secret file"):
        read_secret_file(secret)
    secret.write_text(f"{SECRET}\n")
    secret.chmod(0o640)
    with pytest.raises(CaregiverError, match="chmod 600"):
        read_secret_file(secret)
    secret.chmod(0o600)
    assert read_secret_file(secret) == SECRET
    secret.write_text("\n")
    with pytest.raises(CaregiverError, match="empty"):
        read_secret_file(secret)


def _notice(heard: str | None = "socorro") -> Notice:
    return Notice(
        alert_id=7, tenant="acme", device_id="sala-01", msg_id="m-1", kind="emergency", severity="critical",
        heard=heard, at=datetime(2026, 11, 30, 12, 0, tzinfo=UTC), timezone="America/Sao_Paulo", caregiver="Ana",
        ack_url="https://alerts.example.org/ack/abc", step=0,
    )  # fmt: skip


def test_the_message_says_what_was_heard_when_where_and_how_to_acknowledge() -> None:
    said = text(_notice())
    assert '"socorro"' in said and "sala-01" in said and "30/11/2026 às 09:00" in said
    assert "https://alerts.example.org/ack/abc" in said and "pedido de socorro" in said
    assert "apagada" in text(_notice(heard=None))  # erased by the person: the alert says so, no words


def test_ntfy_headers_follow_its_publishing_api() -> None:
    made = headers(_notice(), "tk_token", "papo-alert-7-1")
    assert made["Priority"] == "5" and "rotating_light" in made["Tags"]
    assert made["Click"] == "https://alerts.example.org/ack/abc"
    assert made["Actions"] == "http, Estou vendo, https://alerts.example.org/ack/abc, method=POST, clear=true"
    assert made["Authorization"] == "Bearer tk_token"
    assert made["Title"].isascii()  # non-ASCII titles go RFC 2047 encoded
    assert header_text("Papo: queda") == "Papo: queda"
    assert header_text("aflição") == "=?UTF-8?B?YWZsacOnw6Nv?="


def test_the_acknowledgement_page_is_https_to_caregivers_and_plaintext_only_on_loopback() -> None:
    from pydantic import ValidationError

    from papo_sync.cloud.settings import AlertSettings

    assert AlertSettings(public_url="https://alerts.example.org").public_url == "https://alerts.example.org"
    with pytest.raises(ValidationError, match="use https"):
        AlertSettings(public_url="http://alerts.example.org")
    with pytest.raises(ValidationError, match="TLS reverse proxy"):
        AlertSettings(listen_host="0.0.0.0")

"""Tenant-bound ACLs, separate cloud roles, TLS off loopback and the ingest path's tenancy check."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from papo_sync.cloud.broker import Listener, Role, TlsFiles, hash_password, render_acl, render_listeners
from papo_sync.cloud.decode import RawMessage
from papo_sync.cloud.tenancy import refusal, screen, tenant_allowed
from papo_sync.connection import is_loopback, plaintext_refusal

EXPECTED_ACL = """\
# Papo Social broker ACL (written by papo-cloud; edits are overwritten). Nothing is allowed unless listed.
user fleet
topic write papo/v1/+/+/shadow/delta
topic write papo/v1/+/+/cmd/+
topic read papo/v1/+/+/cmd/+/result
topic write papo/v1/+/+/alert

user ingest
topic read papo/v1/+/+/sync/up
topic read papo/v1/+/+/state
topic read papo/v1/+/+/telemetry
topic read papo/v1/+/+/shadow/update
topic read papo/v1/+/+/cmd/+/result
topic write papo/v1/+/+/sync/ack

user dev-1
topic write papo/v1/acme/dev-1/state
topic write papo/v1/acme/dev-1/sync/up
topic write papo/v1/acme/dev-1/telemetry
topic write papo/v1/acme/dev-1/shadow/update
topic write papo/v1/acme/dev-1/cmd/+/result
topic read papo/v1/acme/dev-1/sync/ack
topic read papo/v1/acme/dev-1/shadow/delta
topic read papo/v1/acme/dev-1/cmd/+
topic read papo/v1/acme/dev-1/alert

user dev-2
topic write papo/v1/other/dev-2/state
topic write papo/v1/other/dev-2/sync/up
topic write papo/v1/other/dev-2/telemetry
topic write papo/v1/other/dev-2/shadow/update
topic write papo/v1/other/dev-2/cmd/+/result
topic read papo/v1/other/dev-2/sync/ack
topic read papo/v1/other/dev-2/shadow/delta
topic read papo/v1/other/dev-2/cmd/+
topic read papo/v1/other/dev-2/alert
"""


def test_the_acl_binds_each_device_to_its_tenant_and_gives_each_cloud_role_only_its_topics() -> None:
    acl = render_acl({"ingest": Role.INGEST, "fleet": Role.FLEET}, {"dev-2": "other", "dev-1": "acme"})
    assert acl == EXPECTED_ACL
    assert "pattern" not in acl and "readwrite" not in acl and "papo/v1/#" not in acl


def test_password_hashes_are_mosquittos_pbkdf2_format() -> None:
    salt = b"0123456789ab"
    hashed = hash_password("s3cret", salt)
    _, seven, iterations, salt_b64, digest_b64 = hashed.split("$")
    assert (seven, iterations, base64.b64decode(salt_b64)) == ("7", "101", salt)
    assert base64.b64decode(digest_b64) == hashlib.pbkdf2_hmac("sha512", b"s3cret", salt, 101)
    assert hash_password("s3cret") != hash_password("s3cret")  # a fresh salt each time


def test_only_loopback_listeners_may_be_plaintext() -> None:
    tls = TlsFiles(ca=Path("/etc/mosquitto/ca.pem"), cert=Path("/etc/mosquitto/server.pem"), key=Path("/k.pem"))
    text = render_listeners([Listener(port=1883), Listener(port=8883, bind="0.0.0.0", tls=tls)])
    assert text == (
        "listener 1883 127.0.0.1\n"
        "listener 8883 0.0.0.0\ncafile /etc/mosquitto/ca.pem\ncertfile /etc/mosquitto/server.pem\nkeyfile /k.pem\n"
        "require_certificate false\n"
    )
    with pytest.raises(ValueError, match="needs TLS"):
        render_listeners([Listener(port=1883, bind="0.0.0.0")])


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.0.1.1", True), ("::1", True), ("localhost", True), ("10.0.0.2", False),
     ("mqtt.example.org", False), ("0.0.0.0", False)],
)  # fmt: skip
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
    refused = plaintext_refusal(host, 1883, None)
    assert (refused is None) is loopback
    assert plaintext_refusal(host, 8883, Path("ca.pem")) is None


def test_a_device_may_publish_only_under_its_enrolled_tenant() -> None:
    assert tenant_allowed("acme", "acme")
    assert not tenant_allowed("acme", "other")
    assert not tenant_allowed(None, "acme")  # not enrolled (or revoked)
    assert refusal("dev-1", "acme", "acme") is None
    assert refusal("dev-1", "acme", "other") == "topic tenant 'other' is not 'dev-1''s enrolled tenant 'acme'"
    assert "not enrolled" in (refusal("dev-9", None, "acme") or "")


def test_screen_dead_letters_messages_under_a_foreign_tenant() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    good = RawMessage("papo/v1/acme/dev-1/sync/up", b"{}", at)
    foreign = RawMessage("papo/v1/other/dev-1/sync/up", b'{"x": "\\u0000"}\x00', at)
    stranger = RawMessage("papo/v1/acme/dev-9/state", b"{}", at)
    not_ours = RawMessage("elsewhere", b"{}", at)  # planning dead-letters it with its own reason
    kept, refused = screen([good, foreign, stranger, not_ours], {"dev-1": "acme"}.get)
    assert kept == [good, not_ours]
    assert [(d.topic, d.device_id) for d in refused] == [(foreign.topic, "dev-1"), (stranger.topic, "dev-9")]
    assert "enrolled tenant 'acme'" in refused[0].reason and "\x00" not in refused[0].payload
    assert "not enrolled" in refused[1].reason

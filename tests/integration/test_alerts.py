"""Caregiver alerts end to end: a device's wellbeing event through Mosquitto, the ingestor and PostgreSQL reaches a
real SMTP server and a local webhook receiver, once, and the device is told each step in signed AlertUpdates."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from papo_sync.cloud.alerts import caregivers
from papo_sync.cloud.alerts.service import AlertService
from papo_sync.cloud.alerts.signature import verify
from papo_sync.cloud.alerts.targets import NewCaregiver
from papo_sync.cloud.cli import main
from papo_sync.cloud.ingest import Ingestor
from papo_sync.cloud.settings import CloudSettings
from papo_sync.protocol import (
    AlertState,
    OutboxItem,
    SyncBatch,
    WellbeingRecord,
    alert_topic,
    sync_ack_topic,
    sync_up_topic,
)
from papo_sync.signing import load_public_key, open_signed
from support.alerts import HttpReceiver, SmtpServer, alert_settings
from support.broker import CLOUD_USERS, Broker, device_password
from support.fleet import FleetKey, Watcher
from support.wait import wait_until

pytestmark = pytest.mark.services

TENANT = "acme"
SECRET = "s3cret-webhook-key-of-the-family"
HEARD = "eu caí"


@pytest.fixture
def receivers() -> Iterator[Callable[..., HttpReceiver]]:
    made: list[HttpReceiver] = []

    def make(fail_first: int = 0, fail_status: int = 500) -> HttpReceiver:
        made.append(HttpReceiver(fail_first, fail_status))
        return made[-1]

    yield make
    for receiver in made:
        receiver.stop()


@pytest.fixture
def services() -> Iterator[Callable[[CloudSettings], AlertService]]:
    running: list[tuple[AlertService, threading.Thread]] = []

    def start(settings: CloudSettings) -> AlertService:
        service = AlertService(settings)
        thread = threading.Thread(target=service.run, daemon=True)
        thread.start()
        assert service.ready.wait(10)
        running.append((service, thread))
        return service

    yield start
    for service, thread in running:
        service.stop()
        thread.join(timeout=10)


@pytest.fixture
def device(broker: Broker, ingestor: Ingestor) -> Iterator[Watcher]:
    """dev-1 on the broker with its own password: it publishes sync batches and reads its alert topic."""
    watcher = Watcher(broker.port, "dev-1", device_password("dev-1"),
                      [alert_topic(TENANT, "dev-1"), sync_ack_topic(TENANT, "dev-1")])  # fmt: skip
    yield watcher
    watcher.close()


_seq = iter(range(1, 1_000_000))


def _event(device: Watcher, count: int = 1, severity: str = "high") -> list[str]:
    """Publish a batch of `count` wellbeing items as dev-1's agent does; their msg_ids."""
    items = [
        OutboxItem(
            msg_id=uuid.uuid4().hex, seq=next(_seq), kind="wellbeing",
            wellbeing=WellbeingRecord(kind="fall", severity=severity, evidence=HEARD, source="rules",
                                      created_at=datetime.now(UTC)),
        )
        for _ in range(count)
    ]  # fmt: skip
    batch = SyncBatch(device_id="dev-1", batch_id=uuid.uuid4().hex, items=items)
    device.publish(sync_up_topic(TENANT, "dev-1"), batch.model_dump_json())
    return [i.msg_id for i in items]


def _add(db: psycopg.Connection[Any], name: str, target: dict[str, Any], position: int = 1) -> int:
    with psycopg.connect(db.info.dsn, autocommit=True, row_factory=psycopg.rows.dict_row) as own:
        return caregivers.add(own, NewCaregiver(tenant=TENANT, name=name, position=position, target=target))


def _webhook(receiver: HttpReceiver) -> dict[str, Any]:
    return {"channel": "webhook", "url": receiver.url + "/hook", "secret": SECRET}


def _updates(device: Watcher, fleet_key: FleetKey, count: int) -> list[Any]:
    """The first `count` AlertUpdates dev-1 received, each checked as the device checks it (fleet key, device)."""
    key = load_public_key(fleet_key.public)
    messages = device.on(alert_topic(TENANT, "dev-1"), count)
    bodies = [open_signed(m.payload, key, TENANT, "dev-1", datetime.now(UTC)) for m in messages]
    assert all(b.kind == "alert" and b.alert is not None for b in bodies)
    return sorted((b.alert for b in bodies), key=lambda u: (u.alert_id, u.seq))


def _deliveries(db: psycopg.Connection[Any], status: str | None = None) -> list[tuple[Any, ...]]:
    rows = db.execute(
        "SELECT alert_id, caregiver_name, step, status, attempts, history FROM alert_delivery ORDER BY id"
    ).fetchall()
    return [r for r in rows if status is None or r[3] == status]


def test_a_fall_reaches_the_email_and_the_webhook_once_and_the_device_hears_each_step(
    alert_db: psycopg.Connection[Any], cloud: CloudSettings, smtp: SmtpServer, receivers: Any, device: Watcher,
    services: Any, fleet_key: FleetKey,
) -> None:  # fmt: skip
    hook = receivers()
    _add(alert_db, "Ana", {"channel": "email", "address": "ana@example.org"})
    _add(alert_db, "Bruno", _webhook(hook))
    services(alert_settings(cloud, smtp))
    [msg_id] = _event(device)

    [mail] = smtp.messages(1)
    assert mail.recipients == ["ana@example.org"]
    text = mail.message.get_content()
    assert HEARD in text and "dev-1" in text and "Ana" in text
    assert re.search(r"http://127\.0\.0\.1:\d+/ack/[A-Za-z0-9_-]{32}", text)
    [call] = hook.wait_for(1)
    assert verify(SECRET, call.headers["X-Papo-Timestamp"], call.headers["X-Papo-Signature"], call.body, time.time())
    assert not verify("another-secret-entirely", call.headers["X-Papo-Timestamp"],
                      call.headers["X-Papo-Signature"], call.body, time.time())  # fmt: skip
    sent = json.loads(call.body)
    assert (sent["heard"], sent["device_id"], sent["msg_id"], sent["caregiver"]) == (HEARD, "dev-1", msg_id, "Bruno")
    assert call.headers["Idempotency-Key"] and sent["ack_url"].startswith("http://127.0.0.1:")

    wait_until(lambda: len(_deliveries(alert_db, "succeeded")) == 2, 10, "both deliveries recorded as succeeded")
    updates = _updates(device, fleet_key, 3)  # delivering, then delivered (once per caregiver reached)
    assert [u.state for u in updates] == [AlertState.DELIVERING, AlertState.DELIVERED, AlertState.DELIVERED]
    assert {u.msg_id for u in updates} == {msg_id}
    assert {u.caregiver for u in updates[1:]} == {"Ana", "Bruno"}
    assert len(smtp.items) == 1 and len(hook.items) == 1  # each once


def test_a_webhook_failing_three_times_then_succeeding_is_one_delivery_recorded_after_retries(
    alert_db: psycopg.Connection[Any], cloud: CloudSettings, smtp: SmtpServer, receivers: Any, device: Watcher,
    services: Any,
) -> None:  # fmt: skip
    hook = receivers(fail_first=3)
    _add(alert_db, "Bruno", _webhook(hook))
    services(alert_settings(cloud, smtp))
    _event(device)
    wait_until(lambda: _deliveries(alert_db, "succeeded"), 20, "the delivery to succeed")
    [(_, name, _, status, attempts, history)] = _deliveries(alert_db)
    assert (name, status, attempts) == ("Bruno", "succeeded", 4)
    assert [h["outcome"] for h in history] == ["retrying", "retrying", "retrying", "succeeded"]
    assert [h["detail"] for h in history[:3]] == ["HTTP 500"] * 3
    assert [r.status for r in hook.items] == [500, 500, 500, 200]
    assert len({r.headers["Idempotency-Key"] for r in hook.items}) == 1  # the same delivery each time


def test_two_alert_services_deliver_each_alert_once(
    alert_db: psycopg.Connection[Any], cloud: CloudSettings, smtp: SmtpServer, receivers: Any, device: Watcher,
    services: Any,
) -> None:  # fmt: skip
    hook = receivers()
    _add(alert_db, "Ana", {"channel": "email", "address": "ana@example.org"})
    _add(alert_db, "Bruno", _webhook(hook))
    services(alert_settings(cloud, smtp, senders=2))
    services(alert_settings(cloud, smtp, senders=2))
    sent = [msg for _ in range(5) for msg in _event(device, count=4)]
    wait_until(lambda: len(_deliveries(alert_db, "succeeded")) == 2 * len(sent), 60, "every delivery to succeed")
    assert alert_db.execute("SELECT count(*), count(DISTINCT msg_id) FROM alert").fetchone() == (20, 20)
    assert len(hook.items) == 20 and len({json.loads(r.body)["msg_id"] for r in hook.items}) == 20
    assert len(smtp.items) == 20
    assert all(attempts == 1 for *_, attempts, _ in _deliveries(alert_db))


def test_without_an_acknowledgement_the_next_caregiver_is_warned(
    alert_db: psycopg.Connection[Any], cloud: CloudSettings, smtp: SmtpServer, receivers: Any, device: Watcher,
    services: Any,
) -> None:  # fmt: skip
    first, second = receivers(), receivers()
    _add(alert_db, "Ana", _webhook(first), position=1)
    _add(alert_db, "Bruno", _webhook(second), position=2)
    services(alert_settings(cloud, smtp, escalate_after_s=1.0))
    _event(device)
    first.wait_for(1)
    assert second.items == []  # not before the delay
    second.wait_for(1, timeout_s=15)
    steps = {name: step for _, name, step, *_ in _deliveries(alert_db)}
    assert steps == {"Ana": 0, "Bruno": 1}


def test_the_link_shows_a_page_on_get_and_acknowledges_on_post(
    alert_db: psycopg.Connection[Any], cloud: CloudSettings, smtp: SmtpServer, device: Watcher, services: Any,
    fleet_key: FleetKey,
) -> None:  # fmt: skip
    _add(alert_db, "Ana", {"channel": "email", "address": "ana@example.org"})
    services(alert_settings(cloud, smtp))
    _event(device)
    [mail] = smtp.messages(1)
    link = re.search(r"http://\S+/ack/\S+", mail.message.get_content())
    assert link is not None
    with urllib.request.urlopen(link.group(0), timeout=10) as page:  # what a mail scanner's prefetch does
        html = page.read().decode()
    assert 'method="post"' in html and "dev-1" in html
    assert alert_db.execute("SELECT acknowledged_at FROM alert").fetchone() == (None,)
    request = urllib.request.Request(link.group(0), data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=10) as page:
        assert "confirmado" in page.read().decode()
    assert alert_db.execute("SELECT state, acknowledged_by, ack_via FROM alert").fetchone() == (
        "acknowledged", "Ana", "link",
    )  # fmt: skip
    updates = _updates(device, fleet_key, 3)
    assert [u.state for u in updates] == [AlertState.DELIVERING, AlertState.DELIVERED, AlertState.ACKNOWLEDGED]
    assert updates[-1].caregiver == "Ana"


def test_a_refused_webhook_fails_at_once_and_escalates_without_waiting(
    alert_db: psycopg.Connection[Any], cloud: CloudSettings, smtp: SmtpServer, receivers: Any, device: Watcher,
    services: Any, fleet_key: FleetKey,
) -> None:  # fmt: skip
    refusing, second = receivers(fail_first=1, fail_status=404), receivers()
    _add(alert_db, "Ana", _webhook(refusing), position=1)
    _add(alert_db, "Bruno", _webhook(second), position=2)
    services(alert_settings(cloud, smtp))  # the tenant's delay: 5 minutes
    _event(device)
    second.wait_for(1, timeout_s=15)  # long before five minutes
    assert [r.status for r in refusing.items] == [404]  # not retried: a 404 will not change
    updates = _updates(device, fleet_key, 4)  # failed at step 0, being delivered again at step 1, then delivered
    assert [(u.state, u.caregiver) for u in updates] == [
        (AlertState.DELIVERING, None), (AlertState.FAILED, None), (AlertState.DELIVERING, None),
        (AlertState.DELIVERED, "Bruno"),
    ]  # fmt: skip


def test_ntfy_gets_its_headers_and_a_gateway_can_acknowledge_through_the_callback(
    alert_db: psycopg.Connection[Any], cloud: CloudSettings, smtp: SmtpServer, receivers: Any, device: Watcher,
    services: Any, fleet_key: FleetKey,
) -> None:  # fmt: skip
    ntfy = receivers()
    _add(alert_db, "Carla", {"channel": "ntfy", "url": ntfy.url + "/familia-acme"})
    services(alert_settings(cloud, smtp))
    _event(device)
    [push] = ntfy.wait_for(1)
    assert push.path == "/familia-acme" and HEARD in push.body.decode()
    assert push.headers["Priority"] == "5" and "rotating_light" in push.headers["Tags"]
    ack_url = push.headers["Click"]
    assert push.headers["Actions"] == f"http, Estou vendo, {ack_url}, method=POST, clear=true"
    callback = urllib.request.Request(ack_url, data=b"{}", method="POST", headers={"Accept": "application/json"})
    with urllib.request.urlopen(callback, timeout=10) as answer:
        assert json.loads(answer.read()) == {"acknowledged": True, "new": True}
    updates = _updates(device, fleet_key, 3)
    assert (updates[-1].state, updates[-1].caregiver) == (AlertState.ACKNOWLEDGED, "Carla")


def test_below_the_threshold_nothing_and_without_caregivers_the_device_is_told(
    alert_db: psycopg.Connection[Any], cloud: CloudSettings, smtp: SmtpServer, device: Watcher, services: Any,
    fleet_key: FleetKey,
) -> None:  # fmt: skip
    services(alert_settings(cloud, smtp))
    [quiet] = _event(device, severity="medium")
    [loud] = _event(device, severity="critical")
    [update] = _updates(device, fleet_key, 1)
    assert (update.msg_id, update.state) == (loud, AlertState.NO_CAREGIVERS)
    assert alert_db.execute("SELECT msg_id FROM alert").fetchall() == [(loud,)]
    assert quiet != loud


def test_the_cli_adds_lists_tests_and_removes_caregivers_and_acknowledges_alerts(
    alert_db: psycopg.Connection[Any], cloud: CloudSettings, smtp: SmtpServer, receivers: Any, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("PAPO_CLOUD_DATABASE_URL", cloud.database_url)
    monkeypatch.setenv("PAPO_CLOUD_ALERTS__SMTP__PORT", str(smtp.port))
    hook = receivers()
    secret = tmp_path / "hook.secret"
    secret.write_text(SECRET + "\n")
    secret.chmod(0o644)
    args = ["caregivers", "add", TENANT, "--name", "Bruno", "--webhook", hook.url + "/hook", "--secret-file",
            str(secret), "--order", "2"]  # fmt: skip
    assert main(args) == 1
    assert "chmod 600" in capsys.readouterr().err
    secret.chmod(0o600)
    assert main(args) == 0
    assert main(["caregivers", "add", TENANT, "--name", "Ana", "--email", "ana@example.org"]) == 0
    assert main(["caregivers", "add", TENANT, "--name", "Eve", "--webhook", "http://example.org/hook"]) == 1
    assert "use https" in capsys.readouterr().err
    assert main(["caregivers", "add", TENANT, "--name", "Eve", "--email", "not-an-address"]) == 1
    assert "not an e-mail address" in capsys.readouterr().err
    assert main(["caregivers", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(c["name"], c["channel"], c["position"]) for c in listed] == [("Ana", "email", 1), ("Bruno", "webhook", 2)]
    assert "secret" not in listed[0]
    ana, bruno = listed[0]["id"], listed[1]["id"]

    assert main(["caregivers", "test", str(ana)]) == 0
    assert "delivered" in capsys.readouterr().out
    [mail] = smtp.messages(1)
    assert mail.recipients == ["ana@example.org"] and "teste" in mail.message["Subject"]
    assert main(["caregivers", "test", str(bruno)]) == 0
    [call] = hook.wait_for(1)
    assert verify(SECRET, call.headers["X-Papo-Timestamp"], call.headers["X-Papo-Signature"], call.body, time.time())
    hook.stop()  # a receiver that is gone: the test says the alert was not delivered
    assert main(["caregivers", "test", str(bruno)]) == 1
    assert "NOT delivered" in capsys.readouterr().out

    assert main(["caregivers", "remove", str(bruno)]) == 0
    assert main(["caregivers", "remove", str(bruno)]) == 1
    capsys.readouterr()
    alert_db.execute(
        "INSERT INTO alert (tenant, device_id, msg_id, kind, severity, state, step_at, event_at, received_at, "
        "created_at) VALUES ('acme', 'dev-1', 'm1', 'fall', 'high', 'delivered', now(), now(), now(), now())"
    )
    [(alert_id,)] = alert_db.execute("SELECT id FROM alert").fetchall()
    assert main(["alerts", "ack", str(alert_id)]) == 0
    assert main(["alerts", "ack", str(alert_id)]) == 0
    assert "already acknowledged" in capsys.readouterr().out
    assert main(["alerts", "list", "--json"]) == 0
    [shown] = json.loads(capsys.readouterr().out)
    assert (shown["state"], shown["ack_via"]) == ("acknowledged", "cli")
    assert alert_db.execute("SELECT state FROM alert_update ORDER BY seq").fetchall() == [("acknowledged",)]


def test_the_shipped_program_delivers_and_stops_cleanly_on_sigterm(
    alert_db: psycopg.Connection[Any], cloud: CloudSettings, smtp: SmtpServer, receivers: Any, device: Watcher,
) -> None:  # fmt: skip
    hook = receivers()
    _add(alert_db, "Bruno", _webhook(hook))
    settings = alert_settings(cloud, smtp)
    env = {
        **os.environ, "PAPO_CLOUD_DATABASE_URL": settings.database_url,
        "PAPO_CLOUD_BROKER__PORT": str(settings.broker.port), "PAPO_CLOUD_BROKER__USERNAME": "fleet",
        "PAPO_CLOUD_BROKER__PASSWORD": CLOUD_USERS["fleet"],
        "PAPO_CLOUD_FLEET_SIGNING_KEY": str(settings.fleet_signing_key),
        "PAPO_CLOUD_ALERTS__LISTEN_PORT": str(settings.alerts.listen_port),
        "PAPO_CLOUD_ALERTS__PUBLIC_URL": settings.alerts.public_url,
    }  # fmt: skip
    program = subprocess.Popen([str(Path(sys.executable).with_name("papo-cloud")), "alerts"], env=env,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        _event(device)
        [call] = hook.wait_for(1)
        assert json.loads(call.body)["heard"] == HEARD
        program.send_signal(signal.SIGTERM)
        _, errors = program.communicate(timeout=20)
        assert program.returncode == 0, errors[-2000:]
        assert HEARD not in errors  # the phrase goes to caregivers, never to the log
    finally:
        if program.poll() is None:
            program.kill()
            program.wait()

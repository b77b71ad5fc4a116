"""Caregiver alerts heard on the device: Papo says a caregiver was warned only once the cloud's signed word says so;
«estou bem» reaches each caregiver warned, once; an acknowledgement through the link is said and ends the check-ins.

Real Mosquitto, PostgreSQL (the ingestor and the alert service), a local SMTP server and webhook receiver; the
device is the real sync agent draining the real store, and the companion following its alerts (tests/support).
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from papo.conversation.phrases import ALERT_CHECK_IN, ALERT_OFFLINE, GLAD_FINE
from papo_sync.cloud.alerts import caregivers, store
from papo_sync.cloud.alerts.signature import verify
from papo_sync.cloud.alerts.targets import NewCaregiver
from papo_sync.cloud.ingest import Ingestor
from papo_sync.cloud.settings import CloudSettings
from support.alert_device import AlertDevice, alert_device
from support.alerts import HttpReceiver, SmtpServer, alert_service, alert_settings
from support.broker import Broker, device_password
from support.fleet import FleetKey
from support.wait import wait_until

pytestmark = pytest.mark.services

TENANT = "acme"
FALL = "Papo, socorro, eu caí no banheiro!"
OFFLINE = ALERT_OFFLINE["pt"]
CHECK_IN = ALERT_CHECK_IN["pt"]
SECRET = "s3cret-of-the-family-hook"


@pytest.fixture
def device(state_dir: Path, broker: Broker, ingestor: Ingestor, fleet_key: FleetKey) -> Iterator[AlertDevice]:
    running = alert_device(state_dir, broker.port, device_password("dev-1"), fleet_key.public, TENANT)
    wait_until(lambda: running.agent.status.connected, 10, "the device to connect")
    yield running
    running.close()


@pytest.fixture
def asking_device(state_dir: Path, broker: Broker, ingestor: Ingestor, fleet_key: FleetKey) -> Iterator[AlertDevice]:
    """dev-1 asking "Você está bem?" every second while an alert is open (instead of every 3 minutes)."""
    running = alert_device(state_dir, broker.port, device_password("dev-1"), fleet_key.public, TENANT, checkin_s=1.0)
    wait_until(lambda: running.agent.status.connected, 10, "the device to connect")
    yield running
    running.close()


def _add(db: psycopg.Connection[Any], name: str, target: dict[str, Any], position: int = 1) -> int:
    with psycopg.connect(db.info.dsn, autocommit=True, row_factory=dict_row) as own:
        return caregivers.add(own, NewCaregiver(tenant=TENANT, name=name, position=position, target=target))


def _webhook(receiver: HttpReceiver) -> dict[str, Any]:
    return {"channel": "webhook", "url": receiver.url + "/hook", "secret": SECRET}


def _signed(call: Any) -> dict[str, Any]:
    """The body of a webhook call, once its HMAC is checked as a gateway checks it."""
    assert verify(SECRET, call.headers["X-Papo-Timestamp"], call.headers["X-Papo-Signature"], call.body, time.time())
    body: dict[str, Any] = json.loads(call.body)
    return body


def test_a_fall_is_delivered_papo_says_whom_it_warned_and_estou_bem_reaches_each_of_them_once(
    alert_db: psycopg.Connection[Any], cloud: CloudSettings, smtp: SmtpServer, hook: HttpReceiver,
    device: AlertDevice,
) -> None:  # fmt: skip
    ana = _add(alert_db, "Ana", {"channel": "email", "address": "ana@example.org"})
    bruno = _add(alert_db, "Bruno", _webhook(hook))
    later = HttpReceiver()  # Carla: warned only if nobody acknowledges, in the second step
    _add(alert_db, "Carla", _webhook(later), position=2)
    try:
        with alert_service(alert_settings(cloud, smtp)):  # the tenant's delay: 5 minutes
            outcome = device.hear(FALL)
            assert outcome.reply == "Estou aqui com você."  # connected: no claim, no offline phrase, until the cloud
            [mail] = smtp.messages(1)
            [call] = hook.wait_for(1)
            assert mail.recipients == ["ana@example.org"] and call.status == 200
            said = device.wait_said("Avisei Ana.")
            said = device.wait_said("Avisei Bruno.")
            assert OFFLINE not in said and said.count("Avisei Ana.") == 1
            [event] = device.store.wellbeing.all()
            [(alert_id, msg_id)] = alert_db.execute("SELECT id, msg_id FROM alert").fetchall()
            assert msg_id == event.id  # matched by msg_id

            fine = device.hear("Estou bem, obrigada.", addressed=False)
            assert fine.reply == GLAD_FINE["pt"]
            _, ok_mail = smtp.messages(2)
            _, ok_call = hook.wait_for(2)
            rows = alert_db.execute("SELECT device_id, event_msg_id FROM wellbeing_ok").fetchall()
            assert rows == [("dev-1", event.id)]

            assert ok_mail.recipients == ["ana@example.org"] and ok_mail.message["X-Papo-Update"] == "ok"
            assert ok_mail.message["Subject"] == "Papo: a pessoa em dev-1 disse que está bem"
            assert "disse ao Papo (dev-1) que está bem" in ok_mail.message.get_content()
            assert f"papo-alert-{alert_id}-{ana}-ok" in ok_mail.message["Message-ID"]
            assert ok_mail.message["Message-ID"] != mail.message["Message-ID"]
            sent = _signed(ok_call)
            assert (sent["type"], sent["update"], sent["msg_id"], sent["caregiver"]) == (
                "papo.alert.ok", "ok", event.id, "Bruno",
            )  # fmt: skip
            assert _signed(call)["type"] == "papo.alert"
            assert ok_call.headers["Idempotency-Key"] == f"papo-alert-{alert_id}-{bruno}-ok"
            assert call.headers["Idempotency-Key"] == f"papo-alert-{alert_id}-{bruno}"

            with psycopg.connect(alert_db.info.dsn, autocommit=True, row_factory=dict_row) as own:
                wait_until(
                    lambda: all(d["status"] == "succeeded" for d in store.listing(own)[0]["deliveries"]), 10,
                    "every delivery recorded as succeeded",
                )  # fmt: skip
                [listed] = store.listing(own)
                assert [(d["caregiver"], d["update"], d["attempts"]) for d in listed["deliveries"]] == [
                    ("Ana", "alert", 1), ("Bruno", "alert", 1), ("Ana", "ok", 1), ("Bruno", "ok", 1),
                ]  # fmt: skip
                assert (listed["state"], listed["acknowledged_at"]) == ("delivered", None)  # open until someone sees it
                assert listed["fine_at"] is not None
                assert store.escalate(own, 0.0) == []  # even with no delay at all, nobody new is warned
            assert len(smtp.items) == 2 and len(hook.items) == 2 and later.items == []  # once each; Carla never
            assert device.said().count("Avisei Ana.") == 1 and device.said().count("Avisei Bruno.") == 1
    finally:
        later.stop()


def test_an_acknowledgement_through_the_link_is_said_by_papo_and_ends_the_check_ins(
    alert_db: psycopg.Connection[Any], cloud: CloudSettings, smtp: SmtpServer, asking_device: AlertDevice,
) -> None:  # fmt: skip
    device = asking_device
    _add(alert_db, "Ana", {"channel": "email", "address": "ana@example.org"})
    with alert_service(alert_settings(cloud, smtp)):
        device.hear(FALL)
        [mail] = smtp.messages(1)
        device.wait_said("Avisei Ana.")
        device.wait_said(CHECK_IN)  # nobody has seen it yet: Papo keeps asking
        [event] = device.store.wellbeing.all()
        assert device.companion.alerts.checking_in

        link = re.search(r"http://\S+/ack/[A-Za-z0-9_-]+", mail.message.get_content())
        assert link is not None
        with urllib.request.urlopen(urllib.request.Request(link.group(0), data=b"", method="POST"), timeout=10) as page:
            assert "confirmado" in page.read().decode()

        said = device.wait_said("Ana já viu o seu aviso.")
        assert said.index("Avisei Ana.") < said.index("Ana já viu o seu aviso.")
        case = device.cases.case(event.id)
        assert case is not None and not case.checking_in  # acknowledged: the check-ins are over
        assert not device.companion.alerts.checking_in and device.cases.next_due() is None  # none is scheduled
        assert device.hear("Estou bem.", addressed=False).reply is None  # nothing left open to answer
        assert device.said().count("Ana já viu o seu aviso.") == 1 and OFFLINE not in device.said()
    assert alert_db.execute("SELECT count(*) FROM wellbeing_ok").fetchone() == (0,)


def test_with_the_broker_down_at_the_fall_papo_says_so_and_says_the_delivery_when_it_comes_back(
    alert_db: psycopg.Connection[Any], cloud: CloudSettings, smtp: SmtpServer, broker: Broker, device: AlertDevice,
) -> None:  # fmt: skip
    _add(alert_db, "Ana", {"channel": "email", "address": "ana@example.org"})
    with alert_service(alert_settings(cloud, smtp)):
        broker.stop()
        wait_until(lambda: not device.agent.status.connected, 10, "the device to notice the broker is gone")
        outcome = device.hear(FALL)
        assert outcome.reply is not None and outcome.reply.endswith(OFFLINE)
        assert "Avisei" not in device.said() and smtp.items == []
        broker.start()
        [mail] = smtp.messages(1, timeout_s=60)
        assert mail.recipients == ["ana@example.org"]
        said = device.wait_said("Avisei Ana.", timeout_s=60)
        assert said.index(OFFLINE) < said.index("Avisei Ana.")

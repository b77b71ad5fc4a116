"""Caregiver alerts heard on the device: Papo says a caregiver was warned only once the cloud's signed word says so.

Real Mosquitto, PostgreSQL (the ingestor and the alert service), a local SMTP server and webhook receiver; the
device is the real sync agent draining the real store, and the companion following its alerts (tests/support).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from papo.conversation.phrases import ALERT_OFFLINE, GLAD_FINE
from papo_sync.cloud.alerts import caregivers
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


@pytest.fixture
def alert_db(db: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    db.execute("TRUNCATE caregiver, alert_policy, alert, alert_delivery, alert_update, wellbeing_ok")
    return db


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture
def hook() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def device(state_dir: Path, broker: Broker, ingestor: Ingestor, fleet_key: FleetKey) -> Iterator[AlertDevice]:
    running = alert_device(state_dir, broker.port, device_password("dev-1"), fleet_key.public, TENANT)
    wait_until(lambda: running.agent.status.connected, 10, "the device to connect")
    yield running
    running.close()


def _add(db: psycopg.Connection[Any], name: str, target: dict[str, Any]) -> None:
    with psycopg.connect(db.info.dsn, autocommit=True, row_factory=psycopg.rows.dict_row) as own:
        caregivers.add(own, NewCaregiver(tenant=TENANT, name=name, position=1, target=target))


def test_a_fall_is_delivered_and_papo_says_whom_it_warned_then_estou_bem_reaches_the_cloud(
    alert_db: psycopg.Connection[Any], cloud: CloudSettings, smtp: SmtpServer, hook: HttpReceiver,
    device: AlertDevice,
) -> None:  # fmt: skip
    _add(alert_db, "Ana", {"channel": "email", "address": "ana@example.org"})
    _add(alert_db, "Bruno", {"channel": "webhook", "url": hook.url + "/hook", "secret": "s3cret-of-the-family-hook"})
    with alert_service(alert_settings(cloud, smtp)):
        outcome = device.hear(FALL)
        assert outcome.reply == "Estou aqui com você."  # connected: no claim, no offline phrase, until the cloud says
        [mail] = smtp.messages(1)
        [call] = hook.wait_for(1)
        assert mail.recipients == ["ana@example.org"] and call.status == 200
        said = device.wait_said("Avisei Ana.")
        said = device.wait_said("Avisei Bruno.")
        assert OFFLINE not in said and said.count("Avisei Ana.") == 1
        [event] = device.store.wellbeing.all()
        assert alert_db.execute("SELECT msg_id FROM alert").fetchall() == [(event.id,)]  # matched by msg_id

        fine = device.hear("Estou bem, obrigada.", addressed=False)
        assert fine.reply == GLAD_FINE["pt"]
        rows = wait_until(
            lambda: alert_db.execute("SELECT device_id, event_msg_id FROM wellbeing_ok").fetchall(), 20,
            "the «estou bem» update stored in the cloud",
        )  # fmt: skip
        assert rows == [("dev-1", event.id)]
        assert len(smtp.items) == 1 and len(hook.items) == 1  # each caregiver warned once


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

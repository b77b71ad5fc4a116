"""Roles and tenancy on a real Mosquitto with the generated ACL, and the ingest path's tenancy check."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from papo_sync.cloud.ingest import Ingestor
from papo_sync.cloud.settings import BrokerSettings, CloudSettings
from papo_sync.protocol import (
    Command,
    CommandName,
    DesiredState,
    SyncAck,
    command_topic,
    shadow_delta_topic,
    sync_ack_topic,
    sync_up_topic,
)
from support.broker import CLOUD_USERS, Broker, device_password
from support.sync_clients import RawMqttClient, count_turns, turn_batch
from support.wait import wait_until

pytestmark = pytest.mark.services

TENANT = "acme"
NOT_AUTHORIZED = 0x87


def _code(client: RawMqttClient, topic: str, payload: str) -> int:
    """Publish at QoS 1; the broker's reason code in the PUBACK (0: accepted, 0x87: not authorized)."""
    info = client.publish(topic, payload)
    return int(client.pubacks[info.mid].value)


def test_the_ingest_account_cannot_publish_a_command_or_desired_state(broker: Broker) -> None:
    device = RawMqttClient(broker, "dev-1", device_password("dev-1"))
    ingest = RawMqttClient(broker, "ingest", CLOUD_USERS["ingest"])
    fleet = RawMqttClient(broker, "fleet", CLOUD_USERS["fleet"])
    command = Command(command_id="c1", name=CommandName.DELETE_HISTORY).model_dump_json()
    desired = DesiredState(version=9, settings={"llm": {"endpoint": "http://evil"}}).model_dump_json()
    ack = SyncAck(batch_id="b1").wire()
    try:
        for topic in (sync_ack_topic(TENANT, "dev-1"), shadow_delta_topic(TENANT, "dev-1")):
            device.subscribe(topic)
        device.subscribe(command_topic(TENANT, "dev-1", "+"))
        refused = [
            _code(ingest, command_topic(TENANT, "dev-1", "c1"), command),
            _code(ingest, shadow_delta_topic(TENANT, "dev-1"), desired),
            _code(fleet, sync_ack_topic(TENANT, "dev-1"), ack),  # nor can the fleet make a device drop rows
        ]
        allowed = [
            _code(ingest, sync_ack_topic(TENANT, "dev-1"), ack),
            _code(fleet, command_topic(TENANT, "dev-1", "c2"), command),
        ]
        wait_until(lambda: len(device.received) >= 2, 10, "the allowed ack and command")
    finally:
        for client in (device, ingest, fleet):
            client.close()
    assert refused == [NOT_AUTHORIZED] * 3 and allowed == [0, 0]
    assert sorted(m.topic for m in device.received) == [
        command_topic(TENANT, "dev-1", "c2"), sync_ack_topic(TENANT, "dev-1")
    ]  # fmt: skip


def test_a_device_cannot_publish_under_another_tenant_or_read_another_device(broker: Broker) -> None:
    device = RawMqttClient(broker, "dev-1", device_password("dev-1"))
    watcher = RawMqttClient(broker, "ingest", CLOUD_USERS["ingest"])
    try:
        watcher.subscribe(sync_up_topic("+", "+"))
        denied = device.publish(sync_up_topic("other", "dev-1"), turn_batch("dev-1", [1]).model_dump_json())
        allowed = device.publish(sync_up_topic(TENANT, "dev-1"), turn_batch("dev-1", [2]).model_dump_json())
        wait_until(lambda: bool(watcher.received), 10, "the allowed batch at the watcher")
        device.subscribe(sync_ack_topic(TENANT, "dev-2"))  # granted, but nothing of dev-2 is delivered to dev-1
        device.subscribe(sync_ack_topic(TENANT, "dev-1"))
        watcher.publish(sync_ack_topic(TENANT, "dev-2"), SyncAck(batch_id="for-dev-2").wire())
        watcher.publish(sync_ack_topic(TENANT, "dev-1"), SyncAck(batch_id="for-dev-1").wire())
        wait_until(lambda: bool(device.received), 10, "dev-1's own ack")  # one publisher's messages come in order
    finally:
        device.close()
        watcher.close()
    assert device.pubacks[denied.mid].value == NOT_AUTHORIZED and device.pubacks[allowed.mid].value == 0
    assert [m.topic for m in watcher.received] == [sync_up_topic(TENANT, "dev-1")]
    assert [m.topic for m in device.received] == [sync_ack_topic(TENANT, "dev-1")]


def test_a_message_under_a_foreign_tenant_is_dead_lettered_even_if_the_broker_lets_it_through(
    tmp_path: Path, database: str, db: psycopg.Connection[Any]
) -> None:
    broker = Broker(tmp_path / "broker", {"dev-1": "other"})  # a misconfigured broker: dev-1 is enrolled in acme
    settings = CloudSettings(
        database_url=database, redis_prefix=f"t{uuid.uuid4().hex[:8]}", batch_wait_ms=10,
        broker=BrokerSettings(port=broker.port, username="ingest", password=CLOUD_USERS["ingest"]),
    )  # fmt: skip
    running = Ingestor(settings)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    device = RawMqttClient(broker, "dev-1", device_password("dev-1"))
    try:
        assert running.connected.wait(10)
        device.publish(sync_up_topic("other", "dev-1"), turn_batch("dev-1", [1, 2]).model_dump_json())
        wait_until(lambda: db.execute("SELECT count(*) FROM dead_letter").fetchone() == (1,), 20, "the dead letter")
    finally:
        device.close()
        running.stop()
        thread.join(timeout=10)
        broker.stop()
    ((topic, device_id, reason),) = db.execute("SELECT topic, device_id, reason FROM dead_letter").fetchall()
    assert (topic, device_id) == (sync_up_topic("other", "dev-1"), "dev-1")
    assert reason == "topic tenant 'other' is not 'dev-1''s enrolled tenant 'acme'"
    assert count_turns(db) == (0, 0)
    assert db.execute("SELECT count(*) FROM device").fetchone() == (0,)  # nor does the foreign tenant stick

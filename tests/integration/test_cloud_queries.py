"""The cloud's queries (built from the schema's metadata) against a real, migrated PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from papo_sync.cloud import store
from papo_sync.cloud.decode import RawMessage, plan
from papo_sync.cloud.fleet import Fleet, FleetError
from papo_sync.cloud.settings import CloudSettings
from papo_sync.protocol import (
    CommandName,
    CommandResult,
    OutboxItem,
    Presence,
    ReportedState,
    StageTimings,
    SyncBatch,
    Telemetry,
    Tombstone,
    TurnRecord,
    command_result_topic,
    shadow_delta_topic,
    shadow_update_topic,
    state_topic,
    sync_up_topic,
    telemetry_topic,
)
from support.broker import CLOUD_USERS, Broker, device_password
from support.fleet import opened
from support.wait import wait_until

pytestmark = pytest.mark.services

TENANT = "acme"
T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def _turn(seq: int, device_id: str = "dev-1") -> OutboxItem:
    record = TurnRecord(
        device_id=device_id, conversation_id="c1", turn_id=f"t{seq}", seq=seq, role="person", text=f"frase {seq}",
        language="pt", started_at=T0, audio_duration_s=1.0, timings=StageTimings(stt_ms=100.0),
    )  # fmt: skip
    return OutboxItem(msg_id=f"m{seq}", seq=seq, kind="turn", turn=record)


def _erase(seq: int, scope: str, turn_ids: list[str] | None = None) -> OutboxItem:
    erase = Tombstone(scope=scope, turn_ids=turn_ids or [], requested_at=T0)  # type: ignore[arg-type]
    return OutboxItem(msg_id=f"e{seq}", seq=seq, kind="tombstone", tombstone=erase)


def _up(*items: OutboxItem, at: datetime = T0, device_id: str = "dev-1") -> RawMessage:
    batch = SyncBatch(device_id=device_id, batch_id=f"b{items[0].seq}", items=list(items))
    return RawMessage(sync_up_topic(TENANT, device_id), batch.model_dump_json().encode(), at)


def _at(topic: str, payload: str, at: datetime = T0) -> RawMessage:
    return RawMessage(topic, payload.encode(), at)


@pytest.fixture
def writer(db: psycopg.Connection[Any], database: str) -> Iterator[psycopg.Connection[Any]]:
    connection = store.connect(database)
    yield connection
    connection.close()


def _seqs(db: psycopg.Connection[Any]) -> list[int]:
    return [r[0] for r in db.execute("SELECT seq FROM turn WHERE device_id = 'dev-1' ORDER BY seq")]


def test_erased_turns_stay_erased_even_when_they_arrive_after_the_tombstone(
    db: psycopg.Connection[Any], writer: psycopg.Connection[Any]
) -> None:
    store.write(writer, plan([_up(_turn(1), _turn(2), _turn(3), _turn(4))]))
    store.write(writer, plan([_up(_erase(5, "turns", ["t2", "t9"]))]))
    assert _seqs(db) == [1, 3, 4]
    store.write(writer, plan([_up(_turn(9), _turn(2), _turn(6))]))  # late, out of order
    assert _seqs(db) == [1, 3, 4, 6]

    store.write(writer, plan([_up(_erase(7, "all_history"))]))
    assert _seqs(db) == []
    store.write(writer, plan([_up(_turn(5), _turn(8))]))
    assert _seqs(db) == [8]
    tombstones = db.execute("SELECT msg_id, scope, turn_ids FROM tombstone ORDER BY seq").fetchall()
    assert tombstones == [("e5", "turns", ["t2", "t9"]), ("e7", "all_history", [])]


def test_the_same_rows_twice_are_stored_once(db: psycopg.Connection[Any], writer: psycopg.Connection[Any]) -> None:
    message = _up(_turn(1), _turn(2))
    store.write(writer, plan([message, message]))
    store.write(writer, plan([message]))

    assert db.execute("SELECT count(*) FROM turn").fetchone() == (2,)


def test_a_device_is_seen_synced_present_and_reports_its_health(
    db: psycopg.Connection[Any], writer: psycopg.Connection[Any]
) -> None:
    later = T0 + timedelta(minutes=5)
    birth = Presence(state="online", session_seq=2, version="0.2.0")
    stale_will = Presence(state="offline", session_seq=1)
    health = Telemetry(at=T0, cpu_pct=3.0, memory_pct=40.0, disk_pct=20.0, version="0.2.1", outbox_depth=7)

    store.write(writer, plan([_at(state_topic(TENANT, "dev-1"), birth.model_dump_json(), later)]))
    row = "SELECT tenant, first_seen, last_seen, last_sync_at, presence, session_seq, version, outbox_depth FROM device"
    assert db.execute(row).fetchone() == (TENANT, later, later, None, "online", 2, "0.2.0", None)

    store.write(writer, plan([_at(state_topic(TENANT, "dev-1"), stale_will.model_dump_json(), T0), _up(_turn(1))]))
    assert db.execute(row).fetchone() == (TENANT, later, later, T0, "online", 2, "0.2.0", None)

    store.write(writer, plan([_at(telemetry_topic(TENANT, "dev-1"), health.model_dump_json())]))
    assert db.execute(row).fetchone() == (TENANT, later, later, T0, "online", 2, "0.2.1", 7)
    telemetry = db.execute("SELECT telemetry FROM device").fetchone()
    assert telemetry is not None and telemetry[0]["outbox_depth"] == 7


def test_a_refused_configuration_keeps_the_settings_the_device_runs_with(
    db: psycopg.Connection[Any], writer: psycopg.Connection[Any]
) -> None:
    applied = ReportedState(version=1, settings={"volume": 3}, restart_needed=["stt.model"])
    refused = ReportedState(version=2, settings={"volume": 99}, accepted=False, reason="volume: at most 10")
    topic = shadow_update_topic(TENANT, "dev-1")

    store.write(writer, plan([_at(topic, applied.model_dump_json())]))
    query = "SELECT version, settings, accepted, reason, restart_needed, reported_at FROM reported_state"
    assert db.execute(query).fetchone() == (1, {"volume": 3}, True, None, ["stt.model"], T0)
    store.write(writer, plan([_at(topic, refused.model_dump_json(), T0 + timedelta(seconds=1))]))
    assert db.execute(query).fetchone() == (
        2,
        {"volume": 3},
        False,
        "volume: at most 10",
        [],
        T0 + timedelta(seconds=1),
    )


def test_command_results_complete_their_command_and_bad_messages_are_kept(
    db: psycopg.Connection[Any], writer: psycopg.Connection[Any]
) -> None:
    db.execute(
        "INSERT INTO device_command (command_id, device_id, name, args, created_at) VALUES "
        "('c1', 'dev-1', 'ping', '{}', now()), ('c2', 'dev-2', 'ping', '{}', now())"
    )
    answer = CommandResult(command_id="c2", ok=True, detail="pong").model_dump_json()

    failed = CommandResult(command_id="c1", ok=False, detail="no").model_dump_json()
    store.write(writer, plan([
        _at(command_result_topic(TENANT, "dev-1", "c1"), failed),
        _at(command_result_topic(TENANT, "dev-1", "c2"), answer),  # dev-1 cannot complete dev-2's command
        _at(state_topic(TENANT, "dev-1"), "nul\x00 byte"),
    ]))  # fmt: skip

    commands = db.execute("SELECT command_id, ok, detail, completed_at FROM device_command ORDER BY 1").fetchall()
    assert commands == [("c1", False, "no", T0), ("c2", None, None, None)]
    dead = db.execute("SELECT topic, device_id, reason, payload FROM dead_letter").fetchall()
    assert [(d[0], d[1], d[3]) for d in dead] == [(state_topic(TENANT, "dev-1"), "dev-1", "nul byte")]
    assert dead[0][2].startswith("not JSON:")


@pytest.fixture
def fleet(broker: Broker, cloud: CloudSettings, db: psycopg.Connection[Any]) -> Iterator[Fleet]:
    broker_settings = cloud.broker.model_copy(update={"username": "fleet", "password": CLOUD_USERS["fleet"]})
    running = Fleet(cloud.model_copy(update={"broker": broker_settings}))
    yield running
    running.close()


def test_the_fleet_lists_devices_turns_and_groups(
    fleet: Fleet, db: psycopg.Connection[Any], writer: psycopg.Connection[Any]
) -> None:
    store.write(writer, plan([_up(*(_turn(n) for n in range(1, 6))), _up(_turn(1, "dev-2"), device_id="dev-2")]))
    db.execute("INSERT INTO desired_state VALUES ('dev-1', 4, '{}', now())")
    db.execute("INSERT INTO reported_state (device_id, version, settings, accepted, reported_at) "
               "VALUES ('dev-1', 3, '{}', true, now())")  # fmt: skip
    db.execute("INSERT INTO device (device_id, tenant, first_seen, last_seen) VALUES ('dev-3', 'other', now(), now())")

    devices = fleet.devices()
    assert [(d["device_id"], d["tenant"], d["desired_version"], d["reported_version"]) for d in devices] == [
        ("dev-1", TENANT, 4, 3),
        ("dev-2", TENANT, None, None),
        ("dev-3", "other", None, None),
    ]
    assert set(devices[0]) == {
        "device_id", "tenant", "presence", "session_seq", "version", "last_seen", "last_sync_at", "outbox_depth",
        "desired_version", "reported_version", "health", "health_reasons",
    }  # fmt: skip
    turns = fleet.turns("dev-1", limit=3)
    assert [(t["seq"], t["text"], t["timings"]["stt_ms"]) for t in turns] == [
        (3, "frase 3", 100.0),
        (4, "frase 4", 100.0),
        (5, "frase 5", 100.0),
    ]
    assert fleet.group(TENANT) == ["dev-1", "dev-2"]
    assert fleet.group("nobody") == []


def test_desired_state_builds_on_what_the_device_accepted_and_refuses_a_stale_version(
    fleet: Fleet, broker: Broker, db: psycopg.Connection[Any]
) -> None:
    db.execute("INSERT INTO device (device_id, tenant, first_seen, last_seen) VALUES ('dev-1', 'acme', now(), now())")
    db.execute("INSERT INTO reported_state (device_id, version, settings, accepted, reported_at) "
               "VALUES ('dev-1', 0, '{\"a\": {\"x\": 1, \"y\": 2}}', true, now())")  # fmt: skip

    first = fleet.set_config("dev-1", {"a": {"y": 3}})
    second = fleet.set_config("dev-1", {"b": True}, expected_version=1)
    with pytest.raises(FleetError, match="stale version: dev-1 is at desired version 2, not 1"):
        fleet.set_config("dev-1", {"c": 1}, expected_version=1)

    assert (first.version, first.settings) == (1, {"a": {"x": 1, "y": 3}})
    assert (second.version, second.settings) == (2, {"a": {"x": 1, "y": 2}, "b": True})
    stored = db.execute("SELECT version, settings FROM desired_state").fetchone()
    assert stored == (2, {"a": {"x": 1, "y": 2}, "b": True})
    received: list[bytes] = []
    watcher = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    watcher.username_pw_set("dev-1", device_password("dev-1"))
    watcher.on_message = lambda _c, _u, message: received.append(message.payload)
    watcher.on_connect = lambda c, *_: c.subscribe(shadow_delta_topic(TENANT, "dev-1"), qos=1)
    watcher.connect("127.0.0.1", broker.port)
    watcher.loop_start()
    try:
        wait_until(lambda: received, 10, "the retained desired state")
    finally:
        watcher.disconnect()
        watcher.loop_stop()
    assert opened(received[0]).desired == second  # signed by the fleet's key


def test_an_unanswered_command_is_recorded_and_says_so(fleet: Fleet, db: psycopg.Connection[Any]) -> None:
    db.execute("INSERT INTO device (device_id, tenant, first_seen, last_seen) VALUES ('dev-1', 'acme', now(), now())")

    with pytest.raises(FleetError, match=r"dev-1 did not answer 'sync-now' within 0.3 s \(is it online\?"):
        fleet.command("dev-1", CommandName.SYNC_NOW, {"full": True}, 0.3)
    with pytest.raises(FleetError, match="unknown device 'dev-9'"):
        fleet.command("dev-9", CommandName.PING, {}, 0.3)

    rows = db.execute("SELECT device_id, name, args, ok, completed_at FROM device_command").fetchall()
    assert rows == [("dev-1", "sync-now", {"full": True}, None, None)]

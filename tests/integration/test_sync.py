"""Sync over a real Mosquitto (own instance, ACL), a real PostgreSQL and a real Redis: nothing lost, nothing twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import pytest
import redis
from paho.mqtt.enums import CallbackAPIVersion

from papo.store import NewTurn, Store
from papo_sync.cloud.ingest import Ingestor
from papo_sync.cloud.settings import BrokerSettings, CloudSettings
from papo_sync.device.agent import AgentConfig, SyncAgent
from papo_sync.protocol import (
    SyncAck,
    sync_ack_topic,
    sync_up_topic,
)
from support.broker import CLOUD_USERS, Broker, device_password, free_port, make_tls
from support.sync_clients import RawMqttClient, count_turns, store_with_turns, turn_batch
from support.sync_fixtures import ADMIN_URL
from support.wait import wait_until

pytestmark = pytest.mark.services

TENANT = "acme"


def _agent(broker: Broker, store: Store, device_id: str = "dev-1", **changes: Any) -> SyncAgent:
    config = AgentConfig(
        host="127.0.0.1", port=broker.port, tenant=TENANT, device_id=device_id, username=device_id,
        password=device_password(device_id), ack_timeout_s=3.0, **changes,
    )  # fmt: skip
    agent = SyncAgent(config, store.outbox, session_seq=1)
    agent.start()
    return agent


def test_a_backlog_reaches_postgresql_exactly_once_and_the_outbox_empties(
    tmp_path: Path, broker: Broker, ingestor: Ingestor, db: psycopg.Connection[Any], cloud: CloudSettings
) -> None:
    store = store_with_turns(tmp_path / "device.sqlite3", "dev-1", 1200)
    agent = _agent(broker, store)
    try:
        assert agent.wait_until_drained(60)
    finally:
        agent.stop()
    assert count_turns(db) == (1200, 1200)
    texts = [r[0] for r in db.execute("SELECT text FROM turn WHERE device_id = 'dev-1' ORDER BY seq")]
    assert texts == [f"frase número {n}" for n in range(1200)]
    device = db.execute("SELECT tenant, presence, last_sync_at FROM device WHERE device_id = 'dev-1'").fetchone()
    assert device is not None and device[0] == TENANT and device[2] is not None
    live = redis.Redis.from_url(cloud.redis_url)
    assert live.xlen(f"{cloud.redis_prefix}:live:dev-1") > 0
    assert json.loads(live.hget(f"{cloud.redis_prefix}:presence", "dev-1") or b"{}")["state"] in ("online", "offline")


_DEVICE_SCRIPT = """
import sys, time
from papo.store import Store
from papo_sync.device.agent import AgentConfig, SyncAgent
store = Store(__import__("pathlib").Path(sys.argv[1]), "dev-1", 300)
config = AgentConfig(host="127.0.0.1", port=int(sys.argv[2]), tenant="acme", device_id="dev-1", username="dev-1",
                     password="pw-dev-1", batch_items=50, window=2, ack_timeout_s=3.0)
agent = SyncAgent(config, store.outbox, session_seq=int(sys.argv[3]))
agent.start()
print("drained" if agent.wait_until_drained(120) else "not drained", flush=True)
agent.stop()
"""


def _device_process(store_path: Path, broker: Broker, session: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _DEVICE_SCRIPT, str(store_path), str(broker.port), str(session)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip


def test_kill_9_of_the_device_during_a_drain_loses_and_duplicates_nothing(
    tmp_path: Path, broker: Broker, ingestor: Ingestor, db: psycopg.Connection[Any]
) -> None:
    path = tmp_path / "device.sqlite3"
    store_with_turns(path, "dev-1", 3000).close()
    device = _device_process(path, broker, session=1)
    wait_until(lambda: count_turns(db)[0] > 300, 60, "the drain to start")
    device.send_signal(signal.SIGKILL)
    device.communicate(timeout=10)  # and close its output pipe
    assert count_turns(db)[0] < 3000  # killed in the middle
    device = _device_process(path, broker, session=2)
    out, _ = device.communicate(timeout=120)
    assert out.strip() == "drained"
    assert count_turns(db) == (3000, 3000)


def test_a_broker_restart_during_a_drain_loses_and_duplicates_nothing(
    tmp_path: Path, broker: Broker, ingestor: Ingestor, db: psycopg.Connection[Any]
) -> None:
    store = store_with_turns(tmp_path / "device.sqlite3", "dev-1", 3000)
    agent = _agent(broker, store, batch_items=50, window=2)
    try:
        wait_until(lambda: count_turns(db)[0] > 300, 60, "the drain to start")
        broker.restart(down_s=1.5)
        assert agent.wait_until_drained(120)
    finally:
        agent.stop()
    assert count_turns(db) == (3000, 3000)


def test_an_ingestor_restart_during_a_drain_loses_and_duplicates_nothing(
    tmp_path: Path, broker: Broker, cloud: CloudSettings, db: psycopg.Connection[Any]
) -> None:
    env = {
        **os.environ, "PAPO_CLOUD_DATABASE_URL": cloud.database_url, "PAPO_CLOUD_REDIS_PREFIX": cloud.redis_prefix,
        "PAPO_CLOUD_BROKER__PORT": str(broker.port), "PAPO_CLOUD_BROKER__USERNAME": "ingest",
        "PAPO_CLOUD_BROKER__PASSWORD": CLOUD_USERS["ingest"],
    }  # fmt: skip
    papo_cloud = str(Path(sys.executable).with_name("papo-cloud"))
    first = subprocess.Popen([papo_cloud, "ingest"], env=env, stderr=subprocess.DEVNULL)
    store = store_with_turns(tmp_path / "device.sqlite3", "dev-1", 3000)
    agent = _agent(broker, store, batch_items=50, window=2)
    second = None
    try:
        wait_until(lambda: count_turns(db)[0] > 300, 60, "the drain to start")
        first.send_signal(signal.SIGKILL)
        first.wait()
        time.sleep(1.0)  # the scenario: no ingestor for a second, so batches go unacked and are sent again
        second = subprocess.Popen([papo_cloud, "ingest"], env=env, stderr=subprocess.DEVNULL)
        assert agent.wait_until_drained(120)
    finally:
        agent.stop()
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=10)
    assert count_turns(db) == (3000, 3000)


def test_postgresql_briefly_unavailable_loses_nothing(
    tmp_path: Path, broker: Broker, ingestor: Ingestor, db: psycopg.Connection[Any], database: str
) -> None:
    name = database.rsplit("/", 1)[1]
    store = store_with_turns(tmp_path / "device.sqlite3", "dev-1", 2000)
    agent = _agent(broker, store, batch_items=50, window=2)
    try:
        wait_until(lambda: count_turns(db)[0] > 200, 60, "the drain to start")
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            time.sleep(3.0)  # the scenario: PostgreSQL refuses connections for three seconds
            admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
        assert agent.wait_until_drained(120)
    finally:
        agent.stop()
    with psycopg.connect(database, autocommit=True) as fresh:
        assert count_turns(fresh) == (2000, 2000)


def test_with_redis_down_ingestion_and_acks_go_on_and_presence_catches_up(
    tmp_path: Path, broker: Broker, cloud: CloudSettings, db: psycopg.Connection[Any]
) -> None:
    port = free_port()
    server = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
                              stdout=subprocess.DEVNULL)  # fmt: skip
    settings = cloud.model_copy(update={"redis_url": f"redis://127.0.0.1:{port}/0"})
    wait_until(lambda: _redis_up(port), 10, "redis-server")
    running = Ingestor(settings)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    try:
        server.terminate()
        server.wait()
        store = store_with_turns(tmp_path / "device.sqlite3", "dev-1", 300)
        agent = _agent(broker, store)
        assert agent.wait_until_drained(60)  # acked with Redis down
        assert count_turns(db) == (300, 300)
        server = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
                                  stdout=subprocess.DEVNULL)  # fmt: skip
        wait_until(lambda: _redis_up(port), 10, "redis-server again")
        store.turns.record(
            NewTurn(text="depois da volta", language="pt", audio_start_s=0, audio_end_s=1, audio_duration_s=1,
                    stt_model="w", stt_window="short", vad_model="v"),
            "mic",
        )  # fmt: skip
        agent.nudge()
        assert agent.wait_until_drained(30)
        live = redis.Redis(port=port)
        wait_until(lambda: live.hget(f"{settings.redis_prefix}:presence", "dev-1") is not None, 10, "presence rebuilt")
        # the live stream goes on with the turn that came after the return; what was ingested while Redis was
        # down is in PostgreSQL only (the live view is best effort)
        entries = wait_until(lambda: live.xrange(f"{settings.redis_prefix}:live:dev-1"), 10, "the live stream")
        streamed = [(e[b"turn_id"].decode(), int(e[b"seq"]), e[b"text"].decode()) for _, e in entries]
        after = "SELECT turn_id, seq, text FROM turn WHERE device_id = 'dev-1' AND text = 'depois da volta'"
        assert streamed == db.execute(after).fetchall()
        live.close()
        agent.stop()
    finally:
        running.stop()
        thread.join(timeout=10)
        server.terminate()
        server.wait()


def _redis_up(port: int) -> bool:
    try:
        return bool(redis.Redis(port=port, socket_connect_timeout=0.2).ping())
    except redis.RedisError:
        return False


def test_order_by_seq_holds_when_batches_arrive_out_of_order(
    broker: Broker, ingestor: Ingestor, db: psycopg.Connection[Any]
) -> None:
    device = RawMqttClient(broker, "dev-1", device_password("dev-1"))
    try:
        for seqs in ([7, 8, 9], [1, 2, 3], [4, 5, 6], [1, 2, 3]):  # late, early, middle, and a duplicate
            device.publish(sync_up_topic(TENANT, "dev-1"), turn_batch("dev-1", seqs).model_dump_json())
        wait_until(lambda: count_turns(db)[0] == 9, 20, "nine turns")
    finally:
        device.close()
    assert [r[0] for r in db.execute("SELECT seq FROM turn WHERE device_id = 'dev-1' ORDER BY seq")] == list(
        range(1, 10)
    )


def test_a_device_cannot_publish_as_another_and_a_forged_payload_is_rejected(
    broker: Broker, ingestor: Ingestor, db: psycopg.Connection[Any]
) -> None:
    device = RawMqttClient(broker, "dev-1", device_password("dev-1"))
    watcher = RawMqttClient(broker, "ingest", CLOUD_USERS["ingest"])  # may read every device's uploads
    try:
        device.subscribe(sync_ack_topic(TENANT, "dev-1"))
        watcher.subscribe(sync_up_topic(TENANT, "+"))
        denied = device.publish(sync_up_topic(TENANT, "dev-2"), turn_batch("dev-2", [1]).model_dump_json())
        forged = turn_batch("dev-1", [1, 2], payload_device="dev-2")
        device.publish(sync_up_topic(TENANT, "dev-1"), forged.model_dump_json())
        wait_until(lambda: bool(device.received), 10, "the rejection ack")
        wait_until(lambda: bool(watcher.received), 10, "the forged batch at the watcher")
    finally:
        device.close()
        watcher.close()
    # the broker refused the publish as dev-2 and delivered it to nobody: the watcher got only the later,
    # allowed one (a broker delivers one publisher's messages in order, so the refused one would have come first)
    assert device.pubacks[denied.mid].value == 0x87, device.pubacks[denied.mid]  # "Not authorized"
    assert [m.topic for m in watcher.received] == [sync_up_topic(TENANT, "dev-1")]
    ack = SyncAck.model_validate_json(device.received[0].payload)
    assert ack.batch_id == forged.batch_id and ack.acked == [] and len(ack.rejected) == 2
    assert count_turns(db, "dev-2") == (0, 0) and count_turns(db, "dev-1") == (0, 0)
    reasons = [r[0] for r in db.execute("SELECT reason FROM dead_letter ORDER BY id")]
    assert any("dev-2" in reason for reason in reasons)


def test_bad_payloads_are_dead_lettered_and_the_ingestor_stays_up(
    broker: Broker, ingestor: Ingestor, db: psycopg.Connection[Any]
) -> None:
    device = RawMqttClient(broker, "dev-1", device_password("dev-1"))
    topic = sync_up_topic(TENANT, "dev-1")
    try:
        device.publish(topic, b"{not json")
        device.publish(
            topic, turn_batch("dev-1", [1]).model_dump_json().replace('"schema_version":1', '"schema_version":9')
        )
        device.publish(topic, json.dumps({"device_id": "dev-1", "batch_id": "x", "items": [], "pad": "x" * 1_100_000}))
        device.publish(f"papo/v1/{TENANT}/dev-1/telemetry", b'{"cpu_pct": -1}')
        device.publish(topic, turn_batch("dev-1", [5]).model_dump_json())  # a good one after the bad ones
        wait_until(lambda: count_turns(db)[0] == 1, 20, "the good batch")
    finally:
        device.close()
    reasons = [r[0] for r in db.execute("SELECT reason FROM dead_letter ORDER BY id")]
    assert len(reasons) == 4, reasons
    assert any("not JSON" in r for r in reasons) and any("schema_version" in r for r in reasons)
    assert any("over the" in r for r in reasons) and any("invalid payload" in r for r in reasons)


def test_device_and_ingestor_sync_over_tls(tmp_path: Path, database: str, db: psycopg.Connection[Any]) -> None:
    ca, cert, key = make_tls(tmp_path / "tls")
    broker = Broker(tmp_path / "broker", ["dev-1"], tls=(ca, cert, key))
    settings = CloudSettings(
        database_url=database, redis_prefix=f"t{uuid.uuid4().hex[:8]}", batch_wait_ms=10,
        broker=BrokerSettings(port=broker.port, username="ingest", password=CLOUD_USERS["ingest"], tls_ca=ca),
    )  # fmt: skip
    running = Ingestor(settings)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    try:
        assert running.connected.wait(10)
        store = store_with_turns(tmp_path / "device.sqlite3", "dev-1", 50)
        agent = _agent(broker, store, tls_ca=ca)
        assert agent.wait_until_drained(30)
        agent.stop()
        accepted, dropped = threading.Event(), threading.Event()
        plain = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        plain.username_pw_set("dev-1", device_password("dev-1"))
        plain.on_connect = lambda _c, _u, _f, reason, _p: accepted.set() if not reason.is_failure else None
        plain.on_disconnect = lambda _c, _u, _f, _reason, _p: dropped.set()
        plain.connect_async("127.0.0.1", broker.port)
        plain.loop_start()
        assert dropped.wait(10)  # without TLS the broker drops the connection before any session
        plain.loop_stop()
        assert not accepted.is_set()
    finally:
        running.stop()
        thread.join(timeout=10)
        broker.stop()
    assert count_turns(db) == (50, 50)


def test_fleet_config_for_a_group_reaches_every_device_of_the_tenant(
    broker: Broker, cloud: CloudSettings, db: psycopg.Connection[Any]
) -> None:
    from papo_sync.cloud.fleet import Fleet, FleetError
    from papo_sync.protocol import shadow_delta_topic
    from support.fleet import opened

    for device in ("dev-1", "dev-2"):
        db.execute("INSERT INTO device (device_id, tenant, first_seen, last_seen) VALUES (%s, 'acme', now(), now())",
                   (device,))  # fmt: skip
    fleet_settings = cloud.model_copy(
        update={"broker": cloud.broker.model_copy(update={"username": "fleet", "password": "fleet-secret"})}
    )
    watcher = RawMqttClient(broker, "dev-2", device_password("dev-2"))
    watcher.subscribe(shadow_delta_topic(TENANT, "dev-2"))
    fleet = Fleet(fleet_settings)
    try:
        versions = [fleet.set_config(d, {"conversation": {"follow_up_s": 30}}).version for d in fleet.group("acme")]
        assert versions == [1, 1]
        with pytest.raises(FleetError, match="unknown device"):
            fleet.set_config("dev-9", {"x": 1})
        wait_until(lambda: bool(watcher.received), 10, "the desired state on dev-2's topic")
    finally:
        fleet.close()
        watcher.close()
    desired = opened(watcher.received[0].payload).desired  # signed by the fleet's key
    assert desired is not None and desired.version == 1 and desired.settings == {"conversation": {"follow_up_s": 30}}
    late = RawMqttClient(broker, "dev-1", device_password("dev-1"))  # a device connecting later still gets it
    late.subscribe(shadow_delta_topic(TENANT, "dev-1"))
    try:
        wait_until(lambda: bool(late.received), 10, "the retained desired state")
    finally:
        late.close()
    assert late.received[0].retain and opened(late.received[0].payload).sequence == 1

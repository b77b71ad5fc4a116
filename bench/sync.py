"""Benchmark: ingest throughput vs a naive consumer, with 1 % poison items, a 10,000-turn drain, 1,000 devices.

Ingest: 1 and 2 ingestor processes against a naive one-INSERT-per-message consumer, and one ingestor with 1 %
of the items poison (NUL characters, a 10 KB model name, a seq past BIGINT, an unknown kind) against the clean
figure of the same run; every valid turn must be in PostgreSQL at the end. Drain: an offline backlog of 10,000
turns from one device. Fleet: 1,000 connected devices (CPU, p99 publish → commit).

Run: uv run python bench/sync.py [--quick]   (about 4 minutes; needs PostgreSQL and Redis on their standard
ports and the mosquitto program; it starts its own broker and uses a database `papo_bench`)
"""

from __future__ import annotations

import argparse
import json
import selectors
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from papo.store import NewTurn, Store
from papo_sync.cloud.schema import migrate
from papo_sync.connection import disable_nagle
from papo_sync.device.agent import AgentConfig, SyncAgent
from papo_sync.protocol import (
    OutboxItem,
    StageTimings,
    SyncAck,
    SyncBatch,
    Telemetry,
    TurnRecord,
    ingest_subscription,
    sync_up_topic,
    telemetry_topic,
)
from support.broker import Broker, device_password, enrol

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = "postgresql://postgres@127.0.0.1:5432/papo_bench"
TENANT = "bench"
PAPO_CLOUD = str(Path(sys.executable).with_name("papo-cloud"))


def _client(broker: Broker, user: str, password: str, name: str) -> mqtt.Client:
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv5)
    client.username_pw_set(user, password)
    return client


_POISON: tuple[dict[str, Any], ...] = (
    {"turn": {"text": "caí\u0000 socorro"}},  # PostgreSQL cannot store a NUL character
    {"turn": {"stt_model": "m" * 10_000}},  # VARCHAR(64)
    {"seq": 2**63},  # past BIGINT
    {"kind": "gossip"},
)


def _poisoned(item: OutboxItem, n: int) -> dict[str, Any]:
    """`item` as JSON, spoiled the n-th of the poison ways."""
    raw: dict[str, Any] = json.loads(item.model_dump_json())
    for key, value in _POISON[n % len(_POISON)].items():
        raw[key] = raw[key] | value if isinstance(value, dict) else value
    return raw


def _batches(devices: int, turns: int, per_batch: int, poison_every: int = 0) -> list[tuple[str, str, list[str]]]:
    """Pre-serialised sync batches: (topic, payload, msg_ids of the valid items); every `poison_every`-th is bad."""
    now = datetime.now(UTC)
    spoiled = 0
    out = []
    per_device = turns // devices
    for d in range(devices):
        device = f"dev-{d:04d}"
        for start in range(0, per_device, per_batch):
            items = [
                OutboxItem(
                    msg_id=uuid.uuid4().hex, seq=seq, kind="turn",
                    turn=TurnRecord(device_id=device, conversation_id="c", turn_id=uuid.uuid4().hex, seq=seq,
                                    role="person", text=f"Hoje eu fui à feira e comprei frutas, número {seq}.",
                                    language="pt", started_at=now, audio_duration_s=2.5,
                                    timings=StageTimings(stt_ms=150.0, eos_to_text_ms=480.0)),
                )
                for seq in range(start, min(start + per_batch, per_device))
            ]  # fmt: skip
            batch = SyncBatch(device_id=device, batch_id=uuid.uuid4().hex, items=items)
            if not poison_every:
                out.append((sync_up_topic(TENANT, device), batch.model_dump_json(), [i.msg_id for i in items]))
                continue
            body = json.loads(batch.model_dump_json())
            valid = []
            for index, item in enumerate(items):
                if item.seq % poison_every == poison_every // 2:
                    body["items"][index] = _poisoned(item, spoiled)
                    spoiled += 1
                else:
                    valid.append(item.msg_id)
            out.append((sync_up_topic(TENANT, device), json.dumps(body, ensure_ascii=False), valid))
    return out


def _env(broker: Broker) -> dict[str, str]:
    import os

    return {
        **os.environ, "PAPO_CLOUD_DATABASE_URL": DATABASE, "PAPO_CLOUD_REDIS_PREFIX": "bench",
        "PAPO_CLOUD_BROKER__PORT": str(broker.port), "PAPO_CLOUD_BROKER__USERNAME": "ingest",
        "PAPO_CLOUD_BROKER__PASSWORD": "ingest-secret",
    }  # fmt: skip


def _truncate() -> None:
    with psycopg.connect(DATABASE, autocommit=True) as db:
        db.execute("TRUNCATE turn, device, dead_letter")


def _throughput(broker: Broker, consumers: list[subprocess.Popen[bytes]], batches: list[Any], turns: int) -> float:
    """Items per second from the first publish to the last application ack (or rejection) of `turns` items."""
    _truncate()
    acked = threading.Event()
    count = [0]
    lock = threading.Lock()

    def on_message(_: Any, __: Any, message: mqtt.MQTTMessage) -> None:
        ack = SyncAck.model_validate_json(message.payload)
        with lock:
            count[0] += len(ack.acked) + len(ack.rejected)
            if count[0] >= turns:
                acked.set()

    clients: dict[str, mqtt.Client] = {}  # each device publishes as itself (the broker's ACL allows no other way)
    for topic in dict.fromkeys(topic for topic, _, _ in batches):
        device = topic.split("/")[3]
        client = _client(broker, device, device_password(device), f"{device}-bench-{uuid.uuid4().hex[:6]}")
        client.on_message = on_message
        client.max_inflight_messages_set(1000)
        client.connect("127.0.0.1", broker.port)
        client.subscribe(topic.replace("/sync/up", "/sync/ack"), qos=1)
        client.loop_start()
        clients[topic] = client
    time.sleep(3.0)  # the consumers subscribe
    started = time.perf_counter()
    for topic, payload, _ in batches:
        clients[topic].publish(topic, payload, qos=1)
    if not acked.wait(600):
        raise RuntimeError(f"only {count[0]} of {turns} turns were acked")
    elapsed = time.perf_counter() - started
    for client in clients.values():
        client.disconnect()
        client.loop_stop()
    for consumer in consumers:
        consumer.terminate()
        consumer.wait(timeout=30)
    valid = {msg_id for _, _, ids in batches for msg_id in ids}
    with psycopg.connect(DATABASE) as db:
        stored = {row[0] for row in db.execute("SELECT msg_id FROM turn").fetchall()}
    _LOST[0] = len(valid - stored)
    assert stored <= valid, "an item not valid was stored"
    return turns / elapsed


_LOST = [0]  # valid turns of the last throughput run that are not in PostgreSQL


def _naive_worker(port: int) -> None:
    """The baseline: one INSERT and one commit per turn, then the ack."""
    db = psycopg.connect(DATABASE)
    client = _client_for_port(port)

    def on_message(c: mqtt.Client, _: Any, message: mqtt.MQTTMessage) -> None:
        batch = SyncBatch.model_validate_json(message.payload)
        for item in batch.items:
            assert item.turn is not None
            t = item.turn
            db.execute(
                "INSERT INTO turn (device_id, msg_id, seq, conversation_id, turn_id, role, text, language, "
                "started_at, audio_duration_s, timings, received_at) VALUES "
                "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now()) ON CONFLICT DO NOTHING",
                (batch.device_id, item.msg_id, item.seq, t.conversation_id, t.turn_id, t.role, t.text, t.language,
                 t.started_at, t.audio_duration_s, t.timings.model_dump_json()),
            )  # fmt: skip
            db.commit()
        ack = SyncAck(batch_id=batch.batch_id, acked=[i.msg_id for i in batch.items])
        c.publish(message.topic.replace("/sync/up", "/sync/ack"), ack.model_dump_json(), qos=1)

    client.on_message = on_message
    client.on_connect = lambda c, *_: c.subscribe(ingest_subscription("sync/up"), qos=1)
    client.connect("127.0.0.1", port)
    client.loop_forever()


def _client_for_port(port: int) -> mqtt.Client:
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.username_pw_set("ingest", "ingest-secret")
    return client


def _backlog(path: Path, turns: int) -> Store:
    """A device store holding `turns` unsynced turns (written in one transaction, as many single turns)."""
    store = Store(path, "dev-0000", 300)
    store.turns.record_many(
        [
            NewTurn(
                text=f"Hoje eu fui à feira e comprei frutas, número {seq}.",
                language="pt",
                audio_start_s=0,
                audio_end_s=2.5,
                audio_duration_s=2.5,
                stt_model="whisper-base",
                stt_window="short",
                vad_model="silero-vad-v6",
                stt_ms=150.0,
            )
            for seq in range(1, turns + 1)
        ],
        "mic",
    )
    return store


def _drain(broker: Broker, turns: int) -> float:
    _truncate()
    ingestor = subprocess.Popen([PAPO_CLOUD, "ingest"], env=_env(broker), stderr=subprocess.DEVNULL)
    time.sleep(3.0)
    with tempfile.TemporaryDirectory() as scratch:
        store = _backlog(Path(scratch) / "device.sqlite3", turns)
        config = AgentConfig(host="127.0.0.1", port=broker.port, tenant=TENANT, device_id="dev-0000",
                             username="dev-0000", password=device_password("dev-0000"))  # fmt: skip
        agent = SyncAgent(config, store.outbox, session_seq=1)
        started = time.perf_counter()
        agent.start()
        if not agent.wait_until_drained(600):
            raise RuntimeError("the backlog did not drain")
        elapsed = time.perf_counter() - started
        agent.stop()
        store.close()
    ingestor.terminate()
    ingestor.wait(timeout=30)
    return elapsed


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks of 10 ms


def _fleet(broker: Broker, broker_pid: int, devices: int, seconds: float) -> dict[str, float]:
    """`devices` connected devices: telemetry and a one-turn batch every 10 s each; CPU and publish → ack.

    The simulated devices run on one thread with paho's external-loop API (one selector for every socket),
    so the simulator itself stays light next to the broker and the ingestor being measured.
    """
    _truncate()
    ingestor = subprocess.Popen([PAPO_CLOUD, "ingest"], env=_env(broker), stderr=subprocess.DEVNULL)
    sent: dict[str, float] = {}
    latencies: list[float] = []
    selector = selectors.DefaultSelector()
    clients: list[tuple[str, mqtt.Client]] = []

    def on_message(_: Any, __: Any, message: mqtt.MQTTMessage) -> None:
        at = sent.pop(SyncAck.model_validate_json(message.payload).batch_id, None)
        if at is not None:
            latencies.append((time.perf_counter() - at) * 1000)

    def pump(timeout: float) -> None:
        for key, _ in selector.select(timeout):
            key.data.loop_read()
        for _, client in clients:
            if client.want_write():
                client.loop_write()

    for d in range(devices):
        device = f"dev-{d:04d}"
        client = _client(broker, device, device_password(device), f"{device}-bench")
        client.on_message = on_message
        client.on_connect = lambda c, _u, _f, _r, _p, d=device: (
            disable_nagle(c),
            c.subscribe(f"papo/v1/{TENANT}/{d}/sync/ack", qos=1),
        )
        client.connect("127.0.0.1", broker.port, keepalive=60)
        selector.register(client.socket(), selectors.EVENT_READ, client)
        clients.append((device, client))
        pump(0)
    settle = time.perf_counter() + 5.0
    while time.perf_counter() < settle:
        pump(0.05)
    cpu_broker, cpu_ingest = _cpu_s(broker_pid), _cpu_s(ingestor.pid)
    started = time.perf_counter()
    seq = 0
    misc_at = started
    while time.perf_counter() - started < seconds:
        tick = time.perf_counter()
        for index, (device, client) in enumerate(clients):
            slot = tick + 10.0 * index / len(clients)  # each device's messages spread over the 10 s period
            while time.perf_counter() < slot:
                pump(max(0.0, min(0.01, slot - time.perf_counter())))
            seq += 1
            telemetry = Telemetry(at=datetime.now(UTC), cpu_pct=3.0, memory_pct=40.0, disk_pct=20.0, version="0.1.0",
                                  outbox_depth=0)  # fmt: skip
            client.publish(telemetry_topic(TENANT, device), telemetry.model_dump_json(), qos=0)
            item = OutboxItem(
                msg_id=uuid.uuid4().hex, seq=seq, kind="turn",
                turn=TurnRecord(device_id=device, conversation_id="c", turn_id=uuid.uuid4().hex, seq=seq,
                                role="person", text="Bom dia!", language="pt", started_at=datetime.now(UTC),
                                audio_duration_s=1.0, timings=StageTimings()),
            )  # fmt: skip
            batch = SyncBatch(device_id=device, batch_id=uuid.uuid4().hex, items=[item])
            sent[batch.batch_id] = time.perf_counter()
            client.publish(sync_up_topic(TENANT, device), batch.model_dump_json(), qos=1)
            if time.perf_counter() - misc_at > 1.0:
                misc_at = time.perf_counter()
                for _, each in clients:
                    each.loop_misc()
    elapsed = time.perf_counter() - started
    drain_until = time.perf_counter() + 3.0
    while time.perf_counter() < drain_until:
        pump(0.05)
    cpu_broker = (_cpu_s(broker_pid) - cpu_broker) / (elapsed + 3.0) * 100
    cpu_ingest = (_cpu_s(ingestor.pid) - cpu_ingest) / (elapsed + 3.0) * 100
    for _, client in clients:
        client.disconnect()
    ingestor.terminate()
    ingestor.wait(timeout=30)
    ordered = sorted(latencies)
    return {
        "messages_per_s": 2 * seq / elapsed,
        "broker_cpu_pct": cpu_broker,
        "ingestor_cpu_pct": cpu_ingest,
        "p50_commit_ms": statistics.median(ordered),
        "p99_commit_ms": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
        "acked": len(latencies),
        "sent": seq,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller runs (a smoke test)")
    parser.add_argument("--naive-worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.naive_worker:
        _naive_worker(args.naive_worker)
        return
    turns = 4_000 if args.quick else 20_000
    naive_turns = 1_000 if args.quick else 3_000
    devices = 100 if args.quick else 1_000
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS papo_bench WITH (FORCE)")
        admin.execute("CREATE DATABASE papo_bench")
    migrate(DATABASE)
    tenants = {f"dev-{d:04d}": TENANT for d in range(1_000)}
    with psycopg.connect(DATABASE, autocommit=True) as db:
        enrol(db, tenants)
    with tempfile.TemporaryDirectory() as scratch:
        broker = Broker(Path(scratch) / "broker", tenants)
        broker_pid = broker.pid
        try:
            print("ingest throughput...", file=sys.stderr, flush=True)
            batches = _batches(10, turns, 200)
            rates = {}
            for workers in (1, 2):
                consumers = [subprocess.Popen([PAPO_CLOUD, "ingest"], env=_env(broker), stderr=subprocess.DEVNULL)
                             for _ in range(workers)]  # fmt: skip
                rates[workers] = _throughput(broker, consumers, batches, turns)
            print("ingest throughput with 1 % poison...", file=sys.stderr, flush=True)
            poisoned = _batches(10, turns, 200, poison_every=100)
            consumer = subprocess.Popen([PAPO_CLOUD, "ingest"], env=_env(broker), stderr=subprocess.DEVNULL)
            poison_rate = _throughput(broker, [consumer], poisoned, turns)
            valid_lost = _LOST[0]
            naive = subprocess.Popen([sys.executable, __file__, "--naive-worker", str(broker.port)])
            rates[0] = _throughput(broker, [naive], _batches(10, naive_turns, 200), naive_turns)
            print("draining a 10,000-turn backlog...", file=sys.stderr, flush=True)
            drain_s = _drain(broker, 10_000)
            print(f"{devices} devices for 30 s...", file=sys.stderr, flush=True)
            fleet = _fleet(broker, broker_pid, devices, 15.0 if args.quick else 30.0)
        finally:
            broker.stop()
    print(f"\nIngest: {turns:,} turns in batches of 200 from 10 devices, to committed and acked")
    print(f"{'consumer':34} {'turns/s':>10} {'vs naive':>9}")
    for label, key in (
        ("naive (INSERT + commit per turn)", 0),
        ("papo-cloud ingest x1", 1),
        ("papo-cloud ingest x2", 2),
    ):
        print(f"{label:34} {rates[key]:10.0f} {rates[key] / rates[0]:9.1f}")
    print(f"\nWith 1 % poison items (one ingestor): {poison_rate:.0f} items/s vs {rates[1]:.0f} clean "
          f"= {poison_rate / rates[1]:.2f}x (goal >= 0.8x); valid turns lost: {valid_lost}")  # fmt: skip
    print(f"\nDrain of a 10,000-turn offline backlog (one device, one ingestor): {drain_s:.2f} s "
          f"({10_000 / drain_s:.0f} turns/s)")  # fmt: skip
    print(f"\n{devices} devices, telemetry + one turn every 10 s each: {fleet['messages_per_s']:.0f} msg/s; "
          f"broker CPU {fleet['broker_cpu_pct']:.1f} %, ingestor CPU {fleet['ingestor_cpu_pct']:.1f} % of a core; "
          f"publish → ack (after commit) p50 {fleet['p50_commit_ms']:.1f} ms, p99 {fleet['p99_commit_ms']:.1f} ms "
          f"({fleet['acked']}/{fleet['sent']} acked)")  # fmt: skip
    print(json.dumps({
        "ingest_per_s_1": round(rates[1]), "ingest_per_s_2": round(rates[2]),
        "speedup_vs_naive": round(rates[1] / rates[0], 1), "drain_10k_s": round(drain_s, 2),
        "p99_commit_ms": round(fleet["p99_commit_ms"], 1),
        "poison_ingest_ratio": round(poison_rate / rates[1], 2), "valid_lost": valid_lost,
    }))  # fmt: skip


if __name__ == "__main__":
    main()

"""No data stops the ingestor (real Mosquitto, PostgreSQL, Redis): poison is dead-lettered and rejected."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from papo_sync.cloud import split, store
from papo_sync.cloud.decode import Plan, RawMessage, plan
from papo_sync.cloud.ingest import Ingestor
from papo_sync.cloud.settings import CloudSettings
from papo_sync.protocol import (
    MAX_BATCH_ITEMS,
    MAX_PAYLOAD_BYTES,
    OutboxItem,
    StageTimings,
    SyncAck,
    TurnRecord,
    sync_ack_topic,
    sync_up_topic,
)
from support.broker import Broker, device_password
from support.wait import wait_until

pytestmark = pytest.mark.services

TENANT = "acme"
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def _item(device_id: str, seq: int, **turn: Any) -> dict[str, Any]:
    record = TurnRecord(
        device_id=device_id, conversation_id="c1", turn_id=f"{device_id}-t{seq}", seq=seq, role="person",
        text=f"frase {seq}", language="pt", started_at=NOW, audio_duration_s=1.0, timings=StageTimings(),
    )  # fmt: skip
    item = json.loads(OutboxItem(msg_id=f"{device_id}-m{seq}", seq=seq, kind="turn", turn=record).model_dump_json())
    item["turn"] |= turn
    return item


def _batch(device_id: str, items: list[dict[str, Any]], batch_id: str | None = None) -> bytes:
    body = {"schema_version": 1, "device_id": device_id, "batch_id": batch_id or uuid.uuid4().hex, "items": items}
    return json.dumps(body).encode()


class Device:
    """A raw MQTT client with a device's credentials that records the acks it receives."""

    def __init__(self, broker: Broker, device_id: str) -> None:
        self.device_id = device_id
        self.acks: list[SyncAck] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"{device_id}-{uuid.uuid4().hex[:6]}",
            protocol=mqtt.MQTTv5,
        )
        self.client.username_pw_set(device_id, device_password(device_id))
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        self.client.subscribe(sync_ack_topic(TENANT, device_id), qos=1)
        assert subscribed.wait(10)

    def _on_message(self, _: Any, __: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.acks.append(SyncAck.model_validate_json(message.payload))

    def send(self, payload: bytes) -> mqtt.MQTTMessageInfo:
        """Publish a sync batch (QoS 1)."""
        return self.client.publish(sync_up_topic(TENANT, self.device_id), payload, qos=1)

    def answered(self, msg_id: str) -> tuple[str, str] | None:
        """('acked', '') or ('rejected', reason) once an ack names `msg_id`."""
        with self._lock:
            for ack in self.acks:
                if msg_id in ack.acked:
                    return "acked", ""
                for rejected in ack.rejected:
                    if rejected.msg_id == msg_id:
                        return "rejected", rejected.reason
        return None

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def devices(broker: Broker) -> Iterator[tuple[Device, Device]]:
    first, second = Device(broker, "dev-1"), Device(broker, "dev-2")
    yield first, second
    first.close()
    second.close()


def _stored(db: psycopg.Connection[Any], msg_id: str) -> bool:
    return db.execute("SELECT 1 FROM turn WHERE msg_id = %s", (msg_id,)).fetchone() is not None


def _dead_reasons(db: psycopg.Connection[Any]) -> list[str]:
    return [str(row[0]) for row in db.execute("SELECT reason FROM dead_letter ORDER BY id").fetchall()]


def test_a_burst_of_poison_is_dead_lettered_and_rejected_while_valid_turns_keep_syncing(
    ingestor: Ingestor, devices: tuple[Device, Device], db: psycopg.Connection[Any], broker: Broker
) -> None:
    first, second = devices
    huge = _item("dev-1", 3)
    huge["turn"]["text"] = "x" * 4_000
    oversized = [{**huge, "msg_id": f"dev-1-big{n}"} for n in range(MAX_PAYLOAD_BYTES // 4_000 + 50)]
    burst = {
        "seq": _batch("dev-1", [{**_item("dev-1", 1), "seq": 2**63}, _item("dev-1", 2)]),
        "model": _batch("dev-1", [_item("dev-1", 4, stt_model="m" * 10_000)]),
        "nul": _batch("dev-1", [_item("dev-1", 5, text="caí\u0000 socorro")]),
        "oversized": _batch("dev-1", oversized),
        "many": _batch("dev-1", [{"msg_id": f"dev-1-n{n}"} for n in range(10_000)]),
    }
    assert MAX_PAYLOAD_BYTES < len(burst["oversized"]) < 2_000_000  # past our limit, within the broker's
    for payload in burst.values():
        first.send(payload)
    # 5 MB: past the broker's own limit, from a connection of its own (the broker drops it and that connection)
    flooder = Device(broker, "dev-1")
    flooder.send(b"{" + b" " * 5_000_000 + b"}")
    second.send(_batch("dev-2", [_item("dev-2", 1)]))

    wait_until(lambda: _stored(db, "dev-2-m1"), 15, "the second device's valid turn in PostgreSQL")
    wait_until(lambda: first.answered("dev-1-n9999") and first.answered("dev-1-big0"), 15, "every poison answered")
    assert first.answered("dev-1-m2") == ("acked", "") and _stored(db, "dev-1-m2")
    expected = {
        "dev-1-m1": "less than or equal to 9223372036854775807",
        "dev-1-m4": "at most 64 characters",
        "dev-1-m5": "NUL character",
        "dev-1-big0": f"over the {MAX_PAYLOAD_BYTES}-byte limit",
        "dev-1-n0": f"over the {MAX_BATCH_ITEMS}-item limit",
    }
    for msg_id, reason in expected.items():
        verdict, said = first.answered(msg_id) or ("", "")
        assert verdict == "rejected" and reason in said, (msg_id, said)
        assert not _stored(db, msg_id)
    reasons = _dead_reasons(db)
    for reason in expected.values():
        assert any(reason in r for r in reasons), (reason, reasons)
    assert sum(len(a.rejected) for a in first.acks) >= 10_000 + len(oversized) + 3
    assert max(len(a.rejected) for a in first.acks) <= MAX_BATCH_ITEMS

    first.send(_batch("dev-1", [_item("dev-1", 10), _item("dev-1", 11)]))
    wait_until(lambda: _stored(db, "dev-1-m10") and _stored(db, "dev-1-m11"), 15, "the first device's later turns")
    assert first.answered("dev-1-m11") == ("acked", "")
    flooder.close()


def test_rows_the_database_refuses_are_split_out_and_the_rest_committed(
    database: str, db: psycopg.Connection[Any]
) -> None:
    """Past the wire model (a row built by hand): the real PostgreSQL refuses it, its neighbours are kept."""
    items = [_item("dev-1", n) for n in range(6)]
    good = plan([RawMessage(sync_up_topic(TENANT, "dev-1"), _batch("dev-1", items), NOW)])
    good.turns[2]["seq"] = 2**63  # BIGINT out of range
    good.turns[4]["language"] = "x" * 9  # VARCHAR(8)
    with store.connect(database) as connection:
        outcome = split.commit(good, lambda part: store.write(connection, part), lambda exc: False)

    assert outcome is not None
    assert sorted(u.entry["msg_id"] for u, _ in outcome.refused) == ["dev-1-m2", "dev-1-m4"]
    assert [r.split(":")[1].strip() for _, r in outcome.refused] == [
        "NumericValueOutOfRange",
        "StringDataRightTruncation",
    ]
    stored = {row[0] for row in db.execute("SELECT msg_id FROM turn").fetchall()}
    assert stored == {"dev-1-m0", "dev-1-m1", "dev-1-m3", "dev-1-m5"}
    [ack] = split.answered(good.acks, outcome.refused)
    assert sorted(r.msg_id for r in ack.ack.rejected) == ["dev-1-m2", "dev-1-m4"]


_FLOOD = textwrap.dedent(
    """
    import json, sys, time, uuid
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    port, password, seconds, batch = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), sys.argv[4]
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.username_pw_set("dev-1", password)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(5000)
    client.connect("127.0.0.1", port)
    client.loop_start()
    topic = "papo/v1/acme/dev-1/sync/up"
    end = time.monotonic() + seconds
    sent = 0
    while time.monotonic() < end:
        payload = batch.replace("BATCH", uuid.uuid4().hex) if sent % 2 else "not json " + "x" * 2000
        if client.publish(topic, payload, qos=sent % 2).rc == mqtt.MQTT_ERR_QUEUE_SIZE:
            continue
        sent += 1
    client.disconnect()
    client.loop_stop()
    print(sent)
    """
)


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.fixture
def small_inbox(cloud: CloudSettings) -> Iterator[Ingestor]:
    running = Ingestor(cloud, inbox_messages=200, inbox_bytes=2_000_000)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    assert running.connected.wait(10)
    yield running
    running.stop()
    thread.join(timeout=10)


def test_a_ten_second_flood_keeps_the_inbox_and_memory_bounded(
    small_inbox: Ingestor, broker: Broker, db: psycopg.Connection[Any], devices: tuple[Device, Device]
) -> None:
    batch = _batch("dev-1", [_item("dev-1", n) for n in range(20)], batch_id="BATCH").decode()
    before = _rss_mb()
    flood = subprocess.Popen(
        [sys.executable, "-c", _FLOOD, str(broker.port), device_password("dev-1"), "10", batch],
        stdout=subprocess.PIPE,
        text=True,
    )
    peak = [before]

    def flood_over() -> bool:
        peak[0] = max(peak[0], _rss_mb())
        assert len(small_inbox.inbox) <= 2 * 200  # QoS 0 up to the bound, QoS 1 up to twice it
        return flood.poll() is not None

    wait_until(flood_over, 30, "the flood to end", poll_s=0.1)
    out, _ = flood.communicate(timeout=10)
    sent = int(out or 0)
    assert sent > 1_000  # it was a flood
    assert small_inbox.inbox.high_water <= 2 * 200
    assert peak[0] - before < 300, f"RSS grew from {before:.0f} MB to {peak[0]:.0f} MB"
    _, second = devices
    second.send(_batch("dev-2", [_item("dev-2", 1)]))
    # the backlog drains first: ~12 s alone, over 120 s once while the whole suite loaded the machine
    wait_until(lambda: _stored(db, "dev-2-m1"), 300, "a valid turn after the flood")
    print(f"flood: {sent} messages, inbox high water {small_inbox.inbox.high_water}, QoS 0 dropped "
          f"{small_inbox.inbox.dropped}, RSS +{peak[0] - before:.0f} MB")  # fmt: skip


def test_split_commit_of_an_empty_plan_writes_once(database: str) -> None:
    with store.connect(database) as connection:
        outcome = split.commit(Plan(), lambda part: store.write(connection, part), lambda exc: False)
    assert outcome is not None and outcome.refused == []

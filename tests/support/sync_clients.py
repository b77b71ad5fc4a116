"""Helpers for sync tests on the real services: a raw MQTT 5 client, a device store full of turns, batches, counts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from papo.store import NewTurn, Store
from papo_sync.protocol import OutboxItem, StageTimings, SyncBatch, TurnRecord
from support.broker import Broker
from support.wait import wait_until


def store_with_turns(path: Path, device_id: str, turns: int) -> Store:
    """A device store at `path` with `turns` person turns recorded (so as many outbox rows)."""
    store = Store(path, device_id, 300)
    for n in range(turns):
        store.turns.record(
            NewTurn(text=f"frase número {n}", language="pt", audio_start_s=0, audio_end_s=1, audio_duration_s=1,
                    stt_model="whisper-base", stt_window="short", vad_model="silero", stt_ms=100.0),
            "mic",
        )  # fmt: skip
    return store


def count_turns(db: psycopg.Connection[Any], device_id: str = "dev-1") -> tuple[int, int]:
    """How many turns of `device_id` PostgreSQL holds, and how many distinct ones."""
    total, distinct = db.execute(
        "SELECT count(*), count(DISTINCT turn_id) FROM turn WHERE device_id = %s", (device_id,)
    ).fetchone()  # type: ignore[misc]
    return int(total), int(distinct)


class RawMqttClient:
    """A raw MQTT 5 client logged in as some user, collecting what it receives and the broker's answers."""

    def __init__(self, broker: Broker, user: str, password: str) -> None:
        self.received: list[mqtt.MQTTMessage] = []
        self.subacks: dict[int, list[ReasonCode]] = {}
        self.pubacks: dict[int, ReasonCode] = {}
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.username_pw_set(user, password)
        self.client.on_message = lambda _c, _u, message: self.received.append(message)
        self.client.on_subscribe = lambda _c, _u, mid, codes, _p: self.subacks.__setitem__(mid, codes)
        self.client.on_publish = lambda _c, _u, mid, code, _p: self.pubacks.__setitem__(mid, code)
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()

    def subscribe(self, topic: str) -> None:
        """Subscribe and wait for the broker's SUBACK granting it."""
        _, mid = self.client.subscribe(topic, qos=1)
        (code,) = wait_until(lambda: self.subacks.get(mid), 5, f"the SUBACK for {topic}")
        assert not code.is_failure, code

    def publish(self, topic: str, payload: bytes | str) -> mqtt.MQTTMessageInfo:
        """Publish at QoS 1 and wait for the broker's PUBACK."""
        info = self.client.publish(topic, payload, qos=1)
        info.wait_for_publish(5)
        wait_until(lambda: info.mid in self.pubacks, 5, f"the PUBACK for {topic}")
        return info

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()


def turn_batch(device_id: str, seqs: list[int], payload_device: str | None = None) -> SyncBatch:
    """A sync/up batch of person turns with these seqs; `payload_device` forges the turns' device_id."""
    items = [
        OutboxItem(
            msg_id=f"m-{device_id}-{seq}", seq=seq, kind="turn",
            turn=TurnRecord(device_id=payload_device or device_id, conversation_id="c1", turn_id=f"t-{seq}", seq=seq,
                            role="person", text=f"turno {seq}", language="pt", started_at=datetime.now(UTC),
                            audio_duration_s=1.0, timings=StageTimings()),
        )
        for seq in seqs
    ]  # fmt: skip
    return SyncBatch(device_id=device_id, batch_id=uuid.uuid4().hex, items=items)

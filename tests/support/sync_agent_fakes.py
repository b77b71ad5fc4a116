"""Fakes for the device's sync agent: an MQTT client the test drives, an in-memory outbox, a clock the test moves.

With them the agent runs without a broker or a database (tests/unit/test_sync_agent.py, test_device_acks.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from papo_sync.protocol import OutboxItem, Tombstone

WAIT_S = 5.0  # how long `FakeClient.wait_for` waits for a message


@dataclass(frozen=True)
class Published:
    """One message the agent published."""

    topic: str
    payload: str
    qos: int
    retain: bool


class FakeClient:
    """Records what the agent publishes; the test plays the network thread (connect, deliver)."""

    def __init__(self) -> None:
        self.on_connect: Any = None
        self.on_disconnect: Any = None
        self.on_message: Any = None
        self.will: tuple[str, str] | None = None
        self.subscriptions: list[tuple[str, int]] = []
        self.published: list[Published] = []
        self.responder: Callable[[Published], None] | None = None
        self._changed = threading.Condition()

    # -- the MqttClient the agent sees
    def will_set(self, topic: str, payload: str, qos: int, retain: bool) -> None:
        self.will = (topic, payload)

    def connect_async(self, host: str, port: int, keepalive: int) -> None:
        pass

    def loop_start(self) -> None:
        pass

    def loop_stop(self) -> None:
        pass

    def publish(self, topic: str, payload: str, qos: int = 0, retain: bool = False) -> Any:
        message = Published(topic, payload, qos, retain)
        with self._changed:
            self.published.append(message)
            self._changed.notify_all()
        if self.responder is not None:
            self.responder(message)
        return SimpleNamespace(rc=0, wait_for_publish=lambda timeout=None: None)

    def subscribe(self, topic: list[tuple[str, int]]) -> None:
        self.subscriptions = topic

    def disconnect(self) -> None:
        self.on_disconnect(self, None, None, "normal", None)

    def socket(self) -> None:
        return None

    # -- the test's side
    def connect(self) -> None:
        self.on_connect(self, None, None, SimpleNamespace(is_failure=False), None)

    def deliver(self, topic: str, payload: str | bytes) -> None:
        data = payload.encode() if isinstance(payload, str) else payload
        self.on_message(self, None, SimpleNamespace(topic=topic, payload=data))

    def on(self, topic: str) -> list[Published]:
        with self._changed:
            return [p for p in self.published if p.topic == topic]

    def wait_for(self, topic: str, count: int) -> list[Published]:
        """The first `count` messages published on `topic`, once they are there."""
        with self._changed:
            arrived = self._changed.wait_for(lambda: len(self.on(topic)) >= count, timeout=WAIT_S)
            assert arrived, f"{count} message(s) on {topic} never came: {self.published}"
            return self.on(topic)[:count]


class MemoryOutbox:
    """An in-memory OutboxSource."""

    def __init__(self, rows: int) -> None:
        now = datetime.now(UTC)
        self._rows = {
            f"m{n}": OutboxItem(msg_id=f"m{n}", seq=n, kind="tombstone",
                                tombstone=Tombstone(scope="turns", turn_ids=[f"t{n}"], requested_at=now))
            for n in range(rows)
        }  # fmt: skip
        self._lock = threading.Lock()
        self.confirmed: list[str] = []

    def pending(self, limit: int, exclude: set[str]) -> list[OutboxItem]:
        with self._lock:
            return [item for key, item in self._rows.items() if key not in exclude][:limit]

    def delete(self, msg_ids: list[str]) -> int:
        with self._lock:
            return sum(self._rows.pop(key, None) is not None for key in msg_ids)

    def depth(self) -> int:
        with self._lock:
            return len(self._rows)

    def confirm_erasures(self, msg_ids: list[str]) -> int:
        with self._lock:
            self.confirmed.extend(msg_ids)
            return sum(m.startswith("m") for m in msg_ids)

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._rows)


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

"""The ingestor's inbox: bounded, so a flood waits at the broker instead of in the ingestor's memory.

QoS 1 messages are bounded by MQTT 5 flow control: the ingestor connects with a receive-maximum and acks
(PUBACK) a message only when a round takes it from the inbox, so a broker that honours it has no more than
that many unacknowledged messages out to us and keeps the rest in its own bounded queue. QoS 0 messages (best
effort by definition) are dropped when the inbox holds `max_messages` or `max_bytes`; past twice those, a QoS 1
message is shed too (acked to the broker and dropped: Mosquitto 2.0.11 stops honouring the receive-maximum
once acks flow). Its device got no application ack, so it sends the rows again: nothing is lost, memory stays
under 2 x `max_bytes` (+ one message) here and as much in the round in hand. Nothing here blocks the MQTT
thread: paho holds its callback lock while delivering, and an ack published meanwhile would wait for it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from papo_sync.cloud.decode import RawMessage

Ack = Callable[[], None]


class Inbox:
    """A FIFO of raw messages: `max_messages`/`max_bytes` for droppable ones, twice that for the flow-controlled."""

    def __init__(self, max_messages: int, max_bytes: int) -> None:
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self._entries: deque[tuple[RawMessage, Ack | None]] = deque()
        self._bytes = 0
        self._changed = threading.Condition()
        self.high_water = 0  # the most messages it held at once
        self.high_water_bytes = 0
        self.dropped = 0  # messages refused while it was full (QoS 0 at the bounds, QoS 1 at twice them)
        self._unacked = 0  # messages held with an ack to send (QoS 1): the receive-maximum bounds them
        self.high_water_unacked = 0

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, message: RawMessage, ack: Ack | None = None, droppable: bool = False) -> bool:
        """Add `message` (its `ack` is called when a round takes it); False when refused (the caller acks it now)."""
        size = len(message.payload)
        room = 1 if droppable else 2
        with self._changed:
            over_bytes = bool(self._entries) and self._bytes + size > room * self.max_bytes
            if len(self._entries) >= room * self.max_messages or over_bytes:
                self.dropped += 1
                return False
            self._entries.append((message, ack))
            self._bytes += size
            self._unacked += ack is not None
            self.high_water_unacked = max(self.high_water_unacked, self._unacked)
            self.high_water = max(self.high_water, len(self._entries))
            self.high_water_bytes = max(self.high_water_bytes, self._bytes)
            self._changed.notify_all()
        return True

    def take(self, most: int, wait_s: float, gather_s: float) -> list[RawMessage]:
        """Up to `most` messages and about `max_bytes`: waits `wait_s` for a first, then `gather_s` for more."""
        taken: list[tuple[RawMessage, Ack | None]] = []
        size = 0
        deadline = time.monotonic() + wait_s
        with self._changed:
            while len(taken) < most and size < self.max_bytes:
                if self._entries:
                    entry = self._entries.popleft()
                    self._bytes -= len(entry[0].payload)
                    self._unacked -= entry[1] is not None
                    size += len(entry[0].payload)
                    taken.append(entry)
                    if len(taken) == 1:
                        deadline = time.monotonic() + gather_s
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(timeout=left)
        for _, ack in taken:  # room for more: the broker may send the next ones
            if ack is not None:
                ack()
        return [message for message, _ in taken]

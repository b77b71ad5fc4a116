"""Redis: presence, last-seen and a live stream of turns per device. Best effort: PostgreSQL is the truth.

Per device Redis holds its presence (online/offline and the session number), its last-seen time and its live
stream; only the stream carries what was said, so only the stream is cleaned when the device's history is erased.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Sequence
from typing import Any

import psycopg
import redis
import sqlalchemy as sa

from papo_sync.cloud import erasure
from papo_sync.cloud.decode import Plan
from papo_sync.cloud.erasure import Erasure
from papo_sync.cloud.schema import device, sql

log = logging.getLogger(__name__)

_ALL_PRESENCE = sql(sa.select(device.c.device_id, device.c.presence, device.c.session_seq, device.c.last_seen))


class LiveView:
    """Writes the live view; after Redis was unreachable, rebuilds presence from PostgreSQL."""

    def __init__(self, url: str, prefix: str, stream_len: int) -> None:
        self._redis = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._prefix = prefix
        self._stream_len = stream_len
        self.dirty = True  # presence must be (re)built from PostgreSQL first

    def key(self, *parts: str) -> str:
        """A namespaced Redis key."""
        return ":".join((self._prefix, *parts))

    def update(
        self,
        plan: Plan,
        stored: Collection[tuple[str, str]],
        connection: psycopg.Connection[Any],
        erasures: Sequence[Erasure] = (),
    ) -> bool:
        """Apply a committed plan: first `erasures`, then presence, last-seen and the turns it `stored` (keys).

        Never raises: True when Redis took all of it; a Redis outage is logged and repaired later.
        """
        try:
            self._repair(connection)
            self._erase(erasures)
            pipe = self._redis.pipeline(transaction=False)
            for device_id, (_, at) in plan.seen.items():
                pipe.hset(self.key("last_seen"), device_id, at.isoformat())
            for _, device_id, presence, _ in plan.presence:
                pipe.hset(
                    self.key("presence"),
                    device_id,
                    json.dumps({"state": presence.state, "session_seq": presence.session_seq}),
                )
            streamed: set[tuple[str, str]] = set()
            first: dict[str, int] = {}  # the lowest seq streamed, per device
            for row in plan.turns:  # only new ones: not an erased one, not a redelivered one again
                row_key = (row["device_id"], row["msg_id"])
                if row_key not in stored or row_key in streamed:
                    continue
                streamed.add(row_key)
                first[row["device_id"]] = min(row["seq"], first.get(row["device_id"], row["seq"]))
                stream = self.key("live", row["device_id"])
                fields = {"seq": row["seq"], "role": row["role"], "text": row["text"], "turn_id": row["turn_id"]}
                pipe.xadd(stream, fields, maxlen=self._stream_len, approximate=True)  # type: ignore[arg-type]
            pipe.execute()
            self._erase(erasure.after(connection, first))  # erased elsewhere while they were on their way here
        except (redis.RedisError, psycopg.Error) as exc:
            self._lost(exc)
            return False
        return True

    def erase(self, erasures: Sequence[Erasure], connection: psycopg.Connection[Any]) -> bool:
        """Remove from the live streams every entry the erasures cover; True when Redis is clean of them."""
        try:
            self._repair(connection)
            self._erase(erasures)
        except (redis.RedisError, psycopg.Error) as exc:
            self._lost(exc)
            return False
        return True

    def _erase(self, erasures: Sequence[Erasure]) -> None:
        by_device: dict[str, list[Erasure]] = {}
        for one in erasures:
            by_device.setdefault(one.device_id, []).append(one)
        if not by_device:
            return
        streams = [self.key("live", device_id) for device_id in by_device]
        reads = self._redis.pipeline(transaction=False)
        for stream in streams:
            reads.xrange(stream)
        pipe = self._redis.pipeline(transaction=False)
        for stream, device_erasures, entries in zip(streams, by_device.values(), reads.execute(), strict=True):
            erased = [entry_id for entry_id, fields in entries if _covered(fields, device_erasures)]
            if erased:
                pipe.xdel(stream, *erased)
        pipe.execute()

    def _repair(self, connection: psycopg.Connection[Any]) -> None:
        if not self.dirty:
            return
        with connection.cursor() as cursor:
            cursor.execute(_ALL_PRESENCE)
            rows = cursor.fetchall()
        connection.rollback()
        pipe = self._redis.pipeline(transaction=False)
        for device_id, presence, session_seq, last_seen in rows:
            pipe.hset(self.key("presence"), device_id, json.dumps({"state": presence, "session_seq": session_seq}))
            pipe.hset(self.key("last_seen"), device_id, last_seen.isoformat())
        pipe.execute()
        self.dirty = False
        log.info("live view rebuilt from PostgreSQL", extra={"devices": len(rows)})

    def _lost(self, exc: redis.RedisError | psycopg.Error) -> None:
        if not self.dirty:
            log.warning(
                "live view not updated; ingestion goes on, it will be rebuilt", extra={"reason": str(exc)[:200]}
            )
        self.dirty = True

    def close(self) -> None:
        """Release the connection pool."""
        self._redis.close()


def _covered(fields: dict[bytes, bytes], erasures: Sequence[Erasure]) -> bool:
    """Whether a live-stream entry (seq, turn_id, ...) is erased by one of its device's erasures."""
    raw_seq, raw_turn = fields.get(b"seq"), fields.get(b"turn_id")
    seq = int(raw_seq) if raw_seq is not None and raw_seq.isdigit() else None
    turn_id = None if raw_turn is None else raw_turn.decode("utf-8", errors="replace")
    return any(one.covers(seq, turn_id) for one in erasures)

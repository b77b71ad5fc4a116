"""Redis: presence, last-seen and a live stream of turns per device. Best effort: PostgreSQL is the truth."""

from __future__ import annotations

import json
import logging
from typing import Any

import psycopg
import redis
import sqlalchemy as sa

from papo_sync.cloud.decode import Plan
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

    def update(self, plan: Plan, connection: psycopg.Connection[Any]) -> None:
        """Apply a committed plan; never raises (a Redis outage is logged and repaired later)."""
        try:
            if self.dirty:
                self._rebuild(connection)
            pipe = self._redis.pipeline(transaction=False)
            for device_id, (_, at) in plan.seen.items():
                pipe.hset(self.key("last_seen"), device_id, at.isoformat())
            for _, device_id, presence, _ in plan.presence:
                pipe.hset(
                    self.key("presence"),
                    device_id,
                    json.dumps({"state": presence.state, "session_seq": presence.session_seq}),
                )
            for row in plan.turns:
                stream = self.key("live", row["device_id"])
                fields = {"seq": row["seq"], "role": row["role"], "text": row["text"], "turn_id": row["turn_id"]}
                pipe.xadd(stream, fields, maxlen=self._stream_len, approximate=True)  # type: ignore[arg-type]
            pipe.execute()
        except redis.RedisError as exc:
            if not self.dirty:
                log.warning(
                    "Redis unavailable; ingestion goes on, the live view will be rebuilt", extra={"reason": str(exc)}
                )
            self.dirty = True

    def _rebuild(self, connection: psycopg.Connection[Any]) -> None:
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

    def close(self) -> None:
        """Release the connection pool."""
        self._redis.close()

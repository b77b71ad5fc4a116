"""The ingestor: shared MQTT subscriptions → batched PostgreSQL commits → application acks → Redis.

A round with tombstones cleans Redis before its acks, which then confirm the erasures (`SyncAck.erased`);
erasures Redis could not take yet are finished and confirmed later, in acks of their own.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
import psycopg

from papo_sync.cloud import erasure, store
from papo_sync.cloud.decode import PendingAck, Plan, RawMessage, plan
from papo_sync.cloud.erasure import Erasure
from papo_sync.cloud.live import LiveView
from papo_sync.cloud.mqtt import new_client
from papo_sync.cloud.settings import CloudSettings
from papo_sync.connection import disable_nagle
from papo_sync.protocol import MAX_BATCH_ITEMS, ingest_subscription, sync_ack_topic

log = logging.getLogger(__name__)

SUBSCRIPTIONS = ("sync/up", "state", "telemetry", "shadow/update", "cmd/+/result")
_ERASURE_RETRY_S = 1.0  # how soon erasures waiting for Redis are tried again
_ERASURE_SWEEP_S = 60.0  # how often to look for erasures another ingestor left unfinished (it stopped)


class Ingestor:
    """One ingestor process's work; several share the load through `$share/ingest/...` subscriptions."""

    def __init__(self, settings: CloudSettings) -> None:
        self._settings = settings
        self._inbox: queue.Queue[RawMessage] = queue.Queue()
        self._stop = threading.Event()
        self._client = new_client(settings.broker, "papo-ingest")
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._connection: psycopg.Connection[Any] | None = None
        self._live = LiveView(settings.redis_url, settings.redis_prefix, settings.live_stream_len)
        self._erasures_at = 0.0  # when to finish pending erasures next (at once: some may be left from before)
        self.connected = threading.Event()

    def _on_connect(self, client: mqtt.Client, _: Any, __: Any, reason: Any, ___: Any) -> None:
        if reason.is_failure:
            log.error("broker refused the ingestor", extra={"reason": str(reason)})
            return
        disable_nagle(client)
        for kind in SUBSCRIPTIONS:
            client.subscribe(ingest_subscription(kind), qos=1)
        self.connected.set()
        log.info("ingestor subscribed", extra={"broker": f"{self._settings.broker.host}:{self._settings.broker.port}"})

    def _on_message(self, _: mqtt.Client, __: Any, message: mqtt.MQTTMessage) -> None:
        self._inbox.put(RawMessage(message.topic, bytes(message.payload), datetime.now(UTC)))

    def run(self) -> None:
        """Ingest until `stop()`; PostgreSQL outages are waited out, the batch in hand is never dropped."""
        self._client.connect_async(self._settings.broker.host, self._settings.broker.port,
                                   keepalive=self._settings.broker.keepalive_s)  # fmt: skip
        self._client.loop_start()
        try:
            while not self._stop.is_set():
                messages = self._gather()
                if messages:
                    self._commit(plan(messages))
                if self.connected.is_set() and time.monotonic() >= self._erasures_at:
                    self._finish_erasures()
        finally:
            self._client.disconnect()
            self._client.loop_stop()
            self._live.close()
            if self._connection is not None:
                self._connection.close()

    def stop(self) -> None:
        """Finish the batch in hand and stop."""
        self._stop.set()

    def _gather(self) -> list[RawMessage]:
        try:
            first = self._inbox.get(timeout=0.2)
        except queue.Empty:
            return []
        messages = [first]
        deadline = time.monotonic() + self._settings.batch_wait_ms / 1000
        while len(messages) < self._settings.batch_max:
            try:
                messages.append(self._inbox.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        return messages

    def _commit(self, batch: Plan) -> None:
        written = self._write(batch)
        if written is None:
            return
        connection = self._db()
        if not batch.tombstones:  # the common round: ack at once, then the live view
            self._publish(batch.acks)
            self._live.update(batch, written.turns, connection)
            return
        # a round with erasures acks them as erased only once Redis is clean too (else later: _finish_erasures)
        erasures = erasure.of_plan(batch)
        clean = self._live.update(batch, written.turns, connection, erasures)
        done = erasures if clean and self._complete(erasures) else []
        if not done:
            self._erasures_at = min(self._erasures_at, time.monotonic() + _ERASURE_RETRY_S)
        self._publish(erasure.confirmed(batch.acks, done))

    def _write(self, batch: Plan) -> store.Written | None:
        """Commit `batch`, waiting PostgreSQL out; None when stopped first (nothing acked: devices send again)."""
        delay = 0.5
        while True:
            try:
                return store.write(self._db(), batch)
            except psycopg.Error as exc:
                log.warning("PostgreSQL unavailable; retrying the batch", extra={"reason": str(exc).strip()[:200],
                                                                                 "retry_in_s": delay})  # fmt: skip
                self._drop_db()
                if self._stop.wait(delay):
                    log.warning("stopping with a batch not committed; its devices will send it again (no ack)")
                    return None
                delay = min(delay * 2, 10.0)

    def _db(self) -> psycopg.Connection[Any]:
        if self._connection is None or self._connection.closed:
            self._connection = store.connect(self._settings.database_url)
        return self._connection

    def _drop_db(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._connection = None

    def _publish(self, acks: list[PendingAck]) -> None:
        for pending in acks:  # only after the commit: the rows are durable
            self._client.publish(sync_ack_topic(pending.tenant, pending.device_id), pending.ack.wire(), qos=1)

    def _complete(self, erasures: list[Erasure]) -> bool:
        try:
            erasure.complete(self._db(), erasures, datetime.now(UTC))
        except psycopg.Error as exc:
            log.warning("PostgreSQL unavailable; erasures confirmed later", extra={"reason": str(exc).strip()[:200]})
            self._drop_db()
            return False
        return True

    def _finish_erasures(self) -> None:
        """Complete the erasures applied in PostgreSQL but not yet in Redis (any ingestor's), and confirm them."""
        self._erasures_at = time.monotonic() + _ERASURE_RETRY_S
        try:
            erasures = erasure.pending(self._db())
        except psycopg.Error as exc:  # the next batch waits PostgreSQL out and says so; try again after it
            log.debug("PostgreSQL unavailable; erasures finished later", extra={"reason": str(exc).strip()[:200]})
            self._drop_db()
            return
        if erasures and not (self._live.erase(erasures, self._db()) and self._complete(erasures)):
            return
        self._publish(erasure.confirmations(erasures))
        if erasures:
            log.info("erasures completed", extra={"erasures": len(erasures)})
        more = len(erasures) == MAX_BATCH_ITEMS  # a full page: there may be more
        self._erasures_at = time.monotonic() + (0.0 if more else _ERASURE_SWEEP_S)

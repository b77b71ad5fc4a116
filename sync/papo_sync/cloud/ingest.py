"""The ingestor: shared MQTT subscriptions → batched PostgreSQL commits → application acks → Redis."""

from __future__ import annotations

import logging
import queue
import threading
import time
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
import psycopg

from papo_sync.cloud import store
from papo_sync.cloud.decode import Plan, RawMessage, plan
from papo_sync.cloud.live import LiveView
from papo_sync.cloud.mqtt import new_client
from papo_sync.cloud.settings import CloudSettings
from papo_sync.connection import disable_nagle
from papo_sync.protocol import ingest_subscription, sync_ack_topic

log = logging.getLogger(__name__)

SUBSCRIPTIONS = ("sync/up", "state", "telemetry", "shadow/update", "cmd/+/result")


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
        delay = 0.5
        while True:
            try:
                if self._connection is None or self._connection.closed:
                    self._connection = store.connect(self._settings.database_url)
                store.write(self._connection, batch)
                break
            except psycopg.Error as exc:
                log.warning("PostgreSQL unavailable; retrying the batch", extra={"reason": str(exc).strip()[:200],
                                                                                 "retry_in_s": delay})  # fmt: skip
                if self._connection is not None:
                    self._connection.close()
                self._connection = None
                if self._stop.wait(delay):
                    log.warning("stopping with a batch not committed; its devices will send it again (no ack)")
                    return
                delay = min(delay * 2, 10.0)
        for pending in batch.acks:  # only now: the rows are durable
            topic = sync_ack_topic(pending.tenant, pending.device_id)
            self._client.publish(topic, pending.ack.model_dump_json(), qos=1)
        assert self._connection is not None
        self._live.update(batch, self._connection)

"""The ingestor: shared MQTT subscriptions → batched PostgreSQL commits → application acks → Redis.

A round with tombstones cleans Redis before its acks, which then confirm the erasures (`SyncAck.erased`);
erasures Redis could not take yet are finished and confirmed later, in acks of their own. Items the database
refuses are split out of their round (`split`), dead-lettered and rejected in the acks; the inbox is bounded
(`inbox`), so neither data nor a flood can stop an ingestor.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from papo_sync.cloud import erasure, split, store, tenancy
from papo_sync.cloud.decode import PendingAck, Plan, RawMessage, plan
from papo_sync.cloud.erasure import Erasure
from papo_sync.cloud.inbox import Inbox
from papo_sync.cloud.live import LiveView
from papo_sync.cloud.mqtt import new_client
from papo_sync.cloud.settings import CloudSettings
from papo_sync.connection import disable_nagle
from papo_sync.protocol import MAX_BATCH_ITEMS, ingest_subscription, sync_ack_topic, sync_up_topic

log = logging.getLogger(__name__)

SUBSCRIPTIONS = ("sync/up", "state", "telemetry", "shadow/update", "cmd/+/result")
_ERASURE_RETRY_S = 1.0  # how soon erasures waiting for Redis are tried again
_ERASURE_SWEEP_S = 60.0  # how often to look for erasures another ingestor left unfinished (it stopped)
# The inbox's bounds (see `inbox`): QoS 0 is dropped past INBOX_MESSAGES / INBOX_BYTES, QoS 1 past twice them (and
# the broker is asked, by the MQTT 5 receive-maximum, to send no more than INBOX_MESSAGES before our PUBACKs,
# sent when a round takes the messages), so payloads take at most 2 x INBOX_BYTES (+ one message) there and
# INBOX_BYTES (+ one) in the round in hand: about 100 MB with the broker's 2 MB max_packet_size.
INBOX_MESSAGES = 500
INBOX_BYTES = 32 * 1024 * 1024
_RETRY_FIRST_S, _RETRY_MAX_S = 0.5, 10.0  # backoff while PostgreSQL is unreachable


class Ingestor:
    """One ingestor process's work; several share the load through `$share/ingest/...` subscriptions."""

    def __init__(
        self, settings: CloudSettings, inbox_messages: int = INBOX_MESSAGES, inbox_bytes: int = INBOX_BYTES
    ) -> None:
        self._settings = settings
        self.inbox = Inbox(inbox_messages, inbox_bytes)
        self._session = 0  # counts connections: a PUBACK belongs to the connection its message came on
        self._retry_s = _RETRY_FIRST_S
        self._stop = threading.Event()
        self.connected = threading.Event()  # set once the broker has granted this connection's subscriptions
        self._subscribe_mid: int | None = None
        self._client = new_client(settings.broker, "papo-ingest")
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_disconnect = lambda *_: self.connected.clear()
        self._client.on_message = self._on_message
        self._client.manual_ack_set(True)  # a message is acked when a round takes it from the inbox (flow control)
        self._connection: psycopg.Connection[Any] | None = None
        self._live = LiveView(settings.redis_url, settings.redis_prefix, settings.live_stream_len)
        self._enrolments = tenancy.Enrolments(settings.database_url)
        self._erasures_at = 0.0  # when to finish pending erasures next (at once: some may be left from before)

    def _on_connect(self, client: mqtt.Client, _: Any, __: Any, reason: Any, ___: Any) -> None:
        if reason.is_failure:
            log.error("broker refused the ingestor", extra={"reason": str(reason)})
            return
        disable_nagle(client)
        self._session += 1
        _, self._subscribe_mid = client.subscribe([(ingest_subscription(kind), 1) for kind in SUBSCRIPTIONS])

    def _on_subscribe(self, _: mqtt.Client, __: Any, mid: int, reasons: list[Any], ___: Any) -> None:
        if mid != self._subscribe_mid:
            return
        refused = [str(reason) for reason in reasons if reason.is_failure]
        if refused:
            log.error("broker refused the ingestor's subscriptions", extra={"reasons": refused})
            return
        self.connected.set()
        log.info("ingestor subscribed", extra={"broker": f"{self._settings.broker.host}:{self._settings.broker.port}"})

    def _on_message(self, _: mqtt.Client, __: Any, message: mqtt.MQTTMessage) -> None:
        raw = RawMessage(message.topic, bytes(message.payload), datetime.now(UTC))
        session, mid, qos = self._session, message.mid, message.qos
        if self.inbox.put(raw, None if qos == 0 else lambda: self._ack(session, mid, qos), droppable=qos == 0):
            return
        if qos:  # shed: acked and dropped; its device gets no application ack and sends it again
            self._client.ack(mid, qos)
        if self.inbox.dropped % 1000 == 1:
            log.warning(
                "inbox full; messages dropped (devices send theirs again)", extra={"dropped": self.inbox.dropped}
            )

    def _ack(self, session: int, mid: int, qos: int) -> None:
        """PUBACK a message taken from the inbox (not one of an earlier connection: its mid means nothing now)."""
        if session == self._session:
            self._client.ack(mid, qos)

    def run(self) -> None:
        """Ingest until `stop()`; PostgreSQL outages are waited out, the batch in hand is never dropped."""
        flow = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        flow.ReceiveMaximum = min(65_535, self.inbox.max_messages)
        self._client.connect_async(self._settings.broker.host, self._settings.broker.port,
                                   keepalive=self._settings.broker.keepalive_s, properties=flow)  # fmt: skip
        self._client.loop_start()
        try:
            while not self._stop.is_set():
                messages = self.inbox.take(self._settings.batch_max, 0.2, self._settings.batch_wait_ms / 1000)
                if messages:
                    self._round(messages)
                if self.connected.is_set() and time.monotonic() >= self._erasures_at:
                    self._finish_erasures()
        finally:
            self._client.disconnect()
            self._client.loop_stop()
            self._live.close()
            self._enrolments.close()
            if self._connection is not None:
                self._connection.close()

    def stop(self) -> None:
        """Finish the batch in hand and stop."""
        self._stop.set()

    def _round(self, messages: list[RawMessage]) -> None:
        """Commit and ack one round; nothing in it may stop the ingestor (its devices send again, unacked)."""
        try:
            kept, refused = tenancy.screen(messages, self._enrolments.tenant_of)  # only under the enrolled tenant
            whole = plan(kept)
            whole.dead.extend(refused)
            self._commit(whole)
        except Exception:
            log.exception("a round failed; its devices will send it again", extra={"message_count": len(messages)})
            self._drop_db()

    def _commit(self, whole: Plan) -> None:
        outcome = split.commit(whole, self._write_part, self._wait_out)
        if outcome is None:
            log.warning("stopping with a batch not committed; its devices will send it again (no ack)")
            return
        self._retry_s = _RETRY_FIRST_S
        batch = outcome.committed
        batch.acks = split.answered(whole.acks, outcome.refused)
        if outcome.refused:  # the offenders' dead letters, committed before the acks that reject them
            letters = split.dead_letters(outcome.refused, lambda d: sync_up_topic(whole.seen[d][0], d))
            if split.commit(Plan(dead=letters), self._write_part, self._wait_out) is None:
                return
        stored = frozenset().union(*(written.turns for written in outcome.written))
        connection = self._db()
        if not batch.tombstones:  # the common round: ack at once, then the live view
            self._publish(batch.acks)
            self._live.update(batch, stored, connection)
            return
        # a round with erasures acks them as erased only once Redis is clean too (else later: _finish_erasures)
        erasures = erasure.of_plan(batch)
        clean = self._live.update(batch, stored, connection, erasures)
        done = erasures if clean and self._complete(erasures) else []
        if not done:
            self._erasures_at = min(self._erasures_at, time.monotonic() + _ERASURE_RETRY_S)
        self._publish(erasure.confirmed(batch.acks, done))

    def _write_part(self, part: Plan) -> store.Written:
        """Commit one part of a round (one transaction); a connection left mid-transaction is dropped."""
        connection = self._db()
        try:
            return store.write(connection, part)
        except Exception:
            if connection.closed or connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                self._drop_db()
            raise

    def _wait_out(self, exc: BaseException) -> bool:
        """After a transient database error: reconnect later, backing off; False when stopped first."""
        log.warning("PostgreSQL unavailable; retrying the batch",
                    extra={"reason": str(exc).strip()[:200], "retry_in_s": self._retry_s})  # fmt: skip
        self._drop_db()
        if self._stop.wait(self._retry_s):
            return False
        self._retry_s = min(self._retry_s * 2, _RETRY_MAX_S)
        return True

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

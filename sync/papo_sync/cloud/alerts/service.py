"""`papo-cloud alerts`: turn wellbeing events into alerts, deliver them, escalate, and tell the devices.

One loop per instance, woken by PostgreSQL NOTIFY (`papo_wellbeing`, sent by triggers when the ingestor commits
wellbeing events or «estou bem»), by a finished delivery or acknowledgement, or by its sweep timer. Sends run on a
small thread pool; their outcomes are recorded by the loop. Several instances share the work through `store`'s SKIP
LOCKED claims.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import psycopg

from papo_sync.cloud.alerts import fine, store
from papo_sync.cloud.alerts.ackpage import AckServer
from papo_sync.cloud.alerts.channels import send
from papo_sync.cloud.alerts.db import Db, connect
from papo_sync.cloud.alerts.outcome import Outcome
from papo_sync.cloud.alerts.updates import UpdatePublisher
from papo_sync.cloud.keys import fleet_key
from papo_sync.cloud.settings import CloudSettings

log = logging.getLogger(__name__)
CHANNEL = "papo_wellbeing"
_RETRY_DB_S = 2.0


class AlertService:
    """One instance of the alert service."""

    def __init__(self, settings: CloudSettings) -> None:
        self._settings = settings
        self._alerts = settings.alerts
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._done: queue.SimpleQueue[tuple[store.Claimed, Outcome]] = queue.SimpleQueue()
        self._in_flight = 0
        self._senders = ThreadPoolExecutor(self._alerts.senders, thread_name_prefix="papo-alerts-send")
        key = fleet_key(settings.fleet_signing_key)
        self._publisher = UpdatePublisher(
            settings.broker, key, timedelta(seconds=self._alerts.update_ttl_s), self._wake.set
        )
        self.ack = AckServer(
            settings.database_url, self._alerts.listen_host, self._alerts.listen_port, self._alerts.timezone,
            self._wake.set,
        )  # fmt: skip
        self.ready = threading.Event()
        self._db: Db | None = None

    def stop(self) -> None:
        """Finish the sends in hand and stop."""
        self._stop.set()
        self._wake.set()

    def run(self) -> None:
        """Work until `stop()`; a database outage is waited out."""
        listener = threading.Thread(target=self._listen, name="papo-alerts-listen", daemon=True)
        listener.start()
        self._publisher.start()
        self.ack.start()
        log.info("alert service started", extra={"ack_port": self.ack.port})
        try:
            while not self._stop.is_set():
                try:
                    wait = self._round()
                except psycopg.OperationalError as exc:
                    log.warning("PostgreSQL unavailable; retrying", extra={"reason": str(exc).strip()[:200]})
                    self._drop_db()
                    wait = _RETRY_DB_S
                except psycopg.Error:  # a statement the database refused: say so loudly, keep serving the rest
                    log.exception("an alert round failed; retrying")
                    self._drop_db()
                    wait = _RETRY_DB_S
                self._wake.wait(wait)
                self._wake.clear()
        finally:
            self._senders.shutdown(wait=True)
            try:
                self._drain()
            except psycopg.Error:  # not recorded: their leases run out and another instance (or the next run) retries
                log.warning("stopping with delivery outcomes not recorded; they will be retried")
            self.ack.stop()
            self._publisher.stop()
            self._drop_db()

    def _round(self) -> float:
        """One pass over the work; seconds until the next is due at the latest."""
        db = self._database()
        self._drain()
        store.open_alerts(db, self._alerts.max_event_age_s)
        fine.pass_on(db, self._alerts.max_event_age_s)
        store.escalate(db, self._alerts.escalate_after_s)
        ack_url = self._alerts.public_url.rstrip("/") + "/ack/{token}"
        for claimed in store.claim(
            db, self._alerts.senders - self._in_flight, self._alerts.lease_s, self._alerts.timezone, ack_url
        ):
            self._in_flight += 1
            self._senders.submit(self._send, claimed)
        self._publish(db)
        self.ready.set()
        due = store.next_due(db)
        return self._alerts.sweep_s if due is None else min(self._alerts.sweep_s, max(due, 0.01))

    def _send(self, claimed: store.Claimed) -> None:
        """One attempt (on a sender thread); the loop records it."""
        try:
            if claimed.channel is None:
                outcome = Outcome(False, False, "the caregiver was removed")
            else:
                outcome = send(claimed.notice, claimed.channel, self._alerts, claimed.idempotency_key)
        except Exception as exc:  # a bug in a channel must not lose the delivery: it is retried
            log.exception("a delivery attempt failed unexpectedly")
            outcome = Outcome(False, True, f"internal error: {type(exc).__name__}")
        self._done.put((claimed, outcome))
        self._wake.set()

    def _drain(self) -> None:
        """Record the outcomes the sender threads finished."""
        alerts = self._alerts
        while True:
            try:
                claimed, outcome = self._done.get_nowait()
            except queue.Empty:
                return
            self._in_flight -= 1
            log.info(
                "delivery attempt",
                extra={"alert": claimed.notice.alert_id, "delivery": claimed.delivery_id, "attempt": claimed.attempt,
                       "ok": outcome.ok, "detail": outcome.detail},
            )  # fmt: skip
            store.record(self._database(), claimed, outcome, alerts.max_attempts, alerts.retry_first_s,
                         alerts.retry_max_s)  # fmt: skip

    def _publish(self, db: Db) -> None:
        while store.publish_updates(db, self._publisher.publish) == 100:
            pass

    def _listen(self) -> None:
        """LISTEN for committed wellbeing events and «estou bem» on a connection of its own; wake the loop for each."""
        while not self._stop.is_set():
            try:
                with connect(self._settings.database_url) as db:
                    db.execute(f"LISTEN {CHANNEL}")
                    self._wake.set()  # events committed while we were not listening are swept now
                    while not self._stop.is_set():
                        for _ in db.notifies(timeout=1.0, stop_after=1):
                            self._wake.set()
            except psycopg.Error:
                self._stop.wait(_RETRY_DB_S)

    def _database(self) -> Db:
        if self._db is None or self._db.closed:
            self._db = connect(self._settings.database_url)
        return self._db

    def _drop_db(self) -> None:
        if self._db is not None:
            self._db.close()
        self._db = None

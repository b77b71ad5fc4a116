"""The device's MQTT agent: outbox drain (rows deleted only on the cloud's ack), presence, telemetry.

The cloud's requests (desired state, commands, signed caregiver alert updates) are handed to the inbox's worker
thread (inbox.py).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from pydantic import ValidationError

from papo_sync.connection import disable_nagle, new_client, plaintext_refusal
from papo_sync.device.gate import FleetGate
from papo_sync.device.inbox import Inbox, Request
from papo_sync.device.ports import AgentConfig, AgentStatus, MqttClient, OutboxSource
from papo_sync.protocol import (
    AlertUpdate,
    Command,
    CommandResult,
    DesiredState,
    Presence,
    ReportedState,
    SyncAck,
    SyncBatch,
    Telemetry,
    alert_topic,
    command_topic,
    parse_topic,
    shadow_delta_topic,
    split_items,
    state_topic,
    sync_ack_topic,
    sync_up_topic,
    telemetry_topic,
)

__all__ = ["AgentConfig", "AgentStatus", "ClientFactory", "OutboxSource", "SyncAgent", "paho_client"]

log = logging.getLogger(__name__)


@dataclass
class _InFlight:
    batch_id: str
    msg_ids: set[str]
    sent_at: float


ClientFactory = Callable[[AgentConfig], MqttClient]


def paho_client(config: AgentConfig) -> MqttClient:
    """The default client: paho MQTT 5 with the config's credentials and TLS (not yet connected)."""
    return new_client(
        config.device_id, config.username, config.password, config.tls_ca, config.tls_cert, config.tls_key
    )


class SyncAgent:
    """Keeps the device's outbox flowing to the cloud whenever the broker is reachable.

    Threads: paho's network thread runs the MQTT callbacks, the drain thread sends batches, resends overdue ones
    and telemetry, and the inbox's worker runs the cloud's requests (desired state, commands) one at a time.
    Acks stay on the network thread: an ack is cheap and bounded (one DELETE of the rows it names, one UPDATE
    of the erasures it confirms and a dict pop), runs no application code, and is the drain's critical path;
    queued behind a slow command (erasing the history) it would stall the window and make batches overdue and
    sent again.

    `client_factory` builds the MQTT client (paho by default; tests pass a fake), `clock` is the monotonic
    clock that times acks and telemetry, and `gate` lets through only the fleet's signed requests (without one,
    every desired state, command and alert update is refused). `on_alert` is given each caregiver alert update
    that passed the gate (signed, for this device, newer than the last of its alert), on the inbox's worker.
    """

    def __init__(
        self,
        config: AgentConfig,
        outbox: OutboxSource,
        session_seq: int,
        telemetry: Callable[[], Telemetry] | None = None,
        on_command: Callable[[Command], CommandResult] | None = None,
        on_desired: Callable[[DesiredState], ReportedState] | None = None,
        applied_version: int = 0,
        client_factory: ClientFactory = paho_client,
        clock: Callable[[], float] = time.monotonic,
        gate: FleetGate | None = None,
        on_alert: Callable[[AlertUpdate], None] | None = None,
    ) -> None:
        self.config = config
        self.status = AgentStatus(session_seq=session_seq, applied_version=applied_version)
        self._outbox = outbox
        self._telemetry = telemetry
        self._clock = clock
        self._inflight: dict[str, _InFlight] = {}
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)  # notified when the in-flight set empties
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client = self._build_client(client_factory)
        self._inbox = Inbox(
            config.tenant, config.device_id, self._publish, self.status,
            on_desired=on_desired, on_command=on_command, sync_now=self._wake.set, gate=gate, on_alert=on_alert,
        )  # fmt: skip

    def _build_client(self, client_factory: ClientFactory) -> MqttClient:
        config = self.config
        client = client_factory(config)
        will = Presence(state="offline", session_seq=self.status.session_seq, version=config.version)
        client.will_set(state_topic(config.tenant, config.device_id), will.model_dump_json(), qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def _publish(self, topic: str, payload: str) -> None:
        self._client.publish(topic, payload, qos=1)

    # -- lifecycle
    def start(self) -> None:
        """Start the inbox's worker, connect (in the background, retrying) and start draining.

        A broker on another machine without TLS is refused: one error line naming the setting, and no connection.
        """
        refusal = plaintext_refusal(self.config.host, self.config.port, self.config.tls_ca)
        if refusal is not None:
            self.status.last_error = refusal
            log.error(
                "sync: not connecting: a broker on another machine needs TLS (set sync.tls_ca)",
                extra={"broker": f"{self.config.host}:{self.config.port}"},
            )
            return
        self._inbox.start()
        self._client.connect_async(self.config.host, self.config.port, keepalive=self.config.keepalive_s)
        self._client.loop_start()
        self._thread = threading.Thread(target=self._drain_loop, name="sync-drain", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Say goodbye (offline, retained) and disconnect; unacknowledged rows stay in the outbox."""
        self._stop.set()
        self._wake.set()
        if self._thread is None:
            return  # never started (refused): nothing to stop
        self._thread.join(timeout=10)
        self._inbox.stop()
        if self.status.connected:
            goodbye = Presence(state="offline", session_seq=self.status.session_seq, version=self.config.version)
            info = self._client.publish(self._state_topic, goodbye.model_dump_json(), qos=1, retain=True)
            info.wait_for_publish(timeout=2)
        self._client.disconnect()
        self._client.loop_stop()

    def nudge(self) -> None:
        """New rows are in the outbox: drain now."""
        self._wake.set()
        with self._idle:
            self._idle.notify_all()  # the outbox changed: waiters look again

    def wait_until_drained(self, timeout_s: float) -> bool:
        """Block until the outbox is empty and nothing is in flight (for tests and `sync now`).

        Waiters look again whenever the in-flight set empties (an ack, a reconnect, a resend) or `nudge` is called.
        """
        deadline = time.monotonic() + timeout_s
        with self._idle:
            while self._inflight or self._outbox.depth() > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def _settled(self) -> None:
        """Wake the drain waiters if nothing is in flight (call with the lock held)."""
        if not self._inflight:
            self._idle.notify_all()

    # -- MQTT callbacks (paho's network thread)
    @property
    def _state_topic(self) -> str:
        return state_topic(self.config.tenant, self.config.device_id)

    def _on_connect(self, client: MqttClient, _: Any, __: Any, reason: Any, ___: Any) -> None:
        if reason.is_failure:
            self.status.last_error = f"broker refused the connection: {reason}"
            log.error("sync: broker refused the connection", extra={"reason": str(reason)})
            return
        disable_nagle(client)
        config = self.config
        birth = Presence(state="online", session_seq=self.status.session_seq, version=config.version)
        client.publish(self._state_topic, birth.model_dump_json(), qos=1, retain=True)
        client.subscribe(
            [
                (sync_ack_topic(config.tenant, config.device_id), 1),
                (shadow_delta_topic(config.tenant, config.device_id), 1),
                (command_topic(config.tenant, config.device_id, "+"), 1),
                (alert_topic(config.tenant, config.device_id), 1),
            ]
        )
        with self._lock:
            self._inflight.clear()  # whatever was in flight is sent again (the cloud dedupes)
            self._settled()
        self.status.connected, self.status.last_error = True, None
        log.info("sync: connected", extra={"broker": f"{config.host}:{config.port}"})
        self._wake.set()

    def _on_disconnect(self, _: MqttClient, __: Any, ___: Any, reason: Any, ____: Any) -> None:
        self.status.connected = False
        if not self._stop.is_set():
            self.status.last_error = f"disconnected: {reason}"
            log.warning("sync: disconnected; reconnecting", extra={"reason": str(reason)})

    def _on_message(self, _: MqttClient, __: Any, message: Any) -> None:
        """Dispatch by topic: acks are handled here; desired state, commands and alerts go to the inbox's worker."""
        parsed = parse_topic(message.topic)
        if parsed is None or parsed[:2] != (self.config.tenant, self.config.device_id):
            log.warning("sync: ignored a message on another device's topic", extra={"topic": message.topic})
            return
        match parsed[2].split("/"):
            case ["sync", "ack"]:
                self._acked(message.payload)
            case ["shadow", "delta"]:
                self._inbox.put(Request("desired", message.payload))
            case ["cmd", command_id]:
                self._inbox.put(Request("command", message.payload, command_id))
            case ["alert"]:
                self._inbox.put(Request("alert", message.payload))
            case _:
                log.debug("sync: ignored a message", extra={"topic": message.topic})

    def _acked(self, payload: bytes) -> None:
        """Delete the rows an ack names, but only those in flight: nobody can make the device drop queued rows."""
        try:
            ack = SyncAck.model_validate_json(payload)
        except ValidationError as exc:
            log.warning("sync: ignored an invalid ack", extra={"reason": str(exc)[:200]})
            return
        with self._lock:
            sent = {m for flight in self._inflight.values() for m in flight.msg_ids}
        acked = [m for m in dict.fromkeys(ack.acked) if m in sent]
        rejected = [r for r in ack.rejected if r.msg_id in sent and r.msg_id not in acked]
        ignored = len(ack.acked) + len(ack.rejected) - len(acked) - len(rejected)
        if ignored:
            self.status.ignored_acks += ignored
            log.debug("sync: ignored acked ids not in flight", extra={"batch_id": ack.batch_id, "ids": ignored})
        for row in rejected:
            log.error("sync: the cloud rejected a row", extra={"msg_id": row.msg_id, "reason": row.reason})
        done = [*acked, *(r.msg_id for r in rejected)]
        if done:
            self._outbox.delete(done)
            self.status.last_sync_at = time.time()
        if ack.erased:
            self._erasures_confirmed(ack.erased)
        self.status.acked += len(acked)
        self.status.rejected += len(rejected)
        with self._lock:
            for batch_id, flight in list(self._inflight.items()):
                flight.msg_ids.difference_update(done)
                if not flight.msg_ids:  # every row of the batch is settled
                    del self._inflight[batch_id]
            self._settled()
        if done:
            self._wake.set()

    def _erasures_confirmed(self, msg_ids: list[str]) -> None:
        """The cloud finished these erasures (PostgreSQL and its live view): the store records it."""
        try:
            known = self._outbox.confirm_erasures(list(msg_ids))
        except Exception as exc:  # the rest of the ack (the in-flight window) must still be handled
            self.status.last_error = f"cannot record confirmed erasures: {exc}"
            log.error(
                "sync: cannot record confirmed erasures", extra={"erasures": len(msg_ids), "reason": str(exc)[:200]}
            )
            return
        self.status.erasures_confirmed += known
        log.info("sync: the cloud confirmed erasures", extra={"erasures": len(msg_ids), "known": known})

    # -- the drain thread
    def _drain_loop(self) -> None:
        next_telemetry = self._clock()
        while not self._stop.is_set():
            if self.status.connected:
                self._resend_overdue()
                self._send_batches()
                if self._telemetry is not None and self._clock() >= next_telemetry:
                    self._send_telemetry()
                    next_telemetry = self._clock() + self.config.telemetry_every_s
            self._wake.wait(timeout=0.5)
            self._wake.clear()

    def _send_batches(self) -> None:
        while not self._stop.is_set() and self.status.connected:
            with self._lock:
                if len(self._inflight) >= self.config.window:
                    return
                busy = {m for flight in self._inflight.values() for m in flight.msg_ids}
            items = self._outbox.pending(self.config.batch_items, busy)
            if not items:
                return
            items = split_items(items)[0]  # within the cloud's bytes limit; the rest goes in the next batch
            batch = SyncBatch(device_id=self.config.device_id, batch_id=uuid.uuid4().hex, items=items)
            with self._lock:
                self._inflight[batch.batch_id] = _InFlight(batch.batch_id, {i.msg_id for i in items}, self._clock())
            info = self._client.publish(
                sync_up_topic(self.config.tenant, self.config.device_id), batch.model_dump_json(), qos=1
            )
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                with self._lock:
                    self._inflight.pop(batch.batch_id, None)
                    self._settled()
                return

    def _resend_overdue(self) -> None:
        now = self._clock()
        with self._lock:
            overdue = [b for b, f in self._inflight.items() if now - f.sent_at > self.config.ack_timeout_s]
            for batch_id in overdue:
                del self._inflight[batch_id]
            self._settled()
        if overdue:
            self.status.resent += len(overdue)
            log.info("sync: no ack in time; sending again", extra={"batches": len(overdue)})

    def _send_telemetry(self) -> None:
        assert self._telemetry is not None
        try:
            report = self._telemetry()
        except Exception as exc:  # telemetry must never stop the drain
            log.warning("sync: telemetry failed", extra={"reason": str(exc)[:200]})
            return
        topic = telemetry_topic(self.config.tenant, self.config.device_id)
        self._client.publish(topic, report.model_dump_json(), qos=0)

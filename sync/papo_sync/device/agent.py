"""The device's MQTT agent: outbox drain (rows deleted only on the cloud's ack), presence, telemetry, commands."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import paho.mqtt.client as mqtt
from pydantic import ValidationError

from papo_sync.connection import disable_nagle, new_client
from papo_sync.protocol import (
    Command,
    CommandResult,
    DesiredState,
    OutboxItem,
    Presence,
    ReportedState,
    SyncAck,
    SyncBatch,
    Telemetry,
    command_result_topic,
    device_prefix,
    shadow_delta_topic,
    shadow_update_topic,
    state_topic,
    sync_ack_topic,
    sync_up_topic,
    telemetry_topic,
)

log = logging.getLogger(__name__)


class OutboxSource(Protocol):
    """The device store's outbox, as the agent needs it."""

    def pending(self, limit: int, exclude: set[str]) -> list[OutboxItem]:
        """The oldest rows not yet acknowledged (and not in `exclude`), in seq order."""

    def delete(self, msg_ids: list[str]) -> int:
        """Remove acknowledged (or rejected) rows; how many."""

    def depth(self) -> int:
        """Rows waiting to be synced."""


@dataclass(frozen=True)
class AgentConfig:
    """Where and who the device is on the broker."""

    host: str
    port: int
    tenant: str
    device_id: str
    username: str | None = None
    password: str | None = None
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    version: str = "0"
    batch_items: int = 200
    window: int = 4
    ack_timeout_s: float = 10.0
    telemetry_every_s: float = 60.0
    keepalive_s: int = 30


@dataclass
class _InFlight:
    batch_id: str
    msg_ids: list[str]
    sent_at: float


@dataclass
class AgentStatus:
    """What /health and telemetry say about sync."""

    connected: bool = False
    last_sync_at: float | None = None
    acked: int = 0
    rejected: int = 0
    resent: int = 0
    applied_version: int = 0
    last_error: str | None = None
    session_seq: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class SyncAgent:
    """Keeps the device's outbox flowing to the cloud whenever the broker is reachable."""

    def __init__(
        self,
        config: AgentConfig,
        outbox: OutboxSource,
        session_seq: int,
        telemetry: Callable[[], Telemetry] | None = None,
        on_command: Callable[[Command], CommandResult] | None = None,
        on_desired: Callable[[DesiredState], ReportedState] | None = None,
        applied_version: int = 0,
    ) -> None:
        self.config = config
        self.status = AgentStatus(session_seq=session_seq, applied_version=applied_version)
        self._outbox = outbox
        self._telemetry = telemetry
        self._on_command = on_command
        self._on_desired = on_desired
        self._inflight: dict[str, _InFlight] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client = self._build_client()

    def _build_client(self) -> mqtt.Client:
        config = self.config
        client = new_client(
            config.device_id, config.username, config.password, config.tls_ca, config.tls_cert, config.tls_key
        )
        will = Presence(state="offline", session_seq=self.status.session_seq, version=config.version)
        client.will_set(state_topic(config.tenant, config.device_id), will.model_dump_json(), qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    # -- lifecycle
    def start(self) -> None:
        """Connect (in the background, retrying) and start draining."""
        self._client.connect_async(self.config.host, self.config.port, keepalive=self.config.keepalive_s)
        self._client.loop_start()
        self._thread = threading.Thread(target=self._drain_loop, name="sync-drain", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Say goodbye (offline, retained) and disconnect; unacknowledged rows stay in the outbox."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self.status.connected:
            goodbye = Presence(state="offline", session_seq=self.status.session_seq, version=self.config.version)
            info = self._client.publish(self._topic("state"), goodbye.model_dump_json(), qos=1, retain=True)
            info.wait_for_publish(timeout=2)
        self._client.disconnect()
        self._client.loop_stop()

    def nudge(self) -> None:
        """New rows are in the outbox: drain now."""
        self._wake.set()

    def wait_until_drained(self, timeout_s: float) -> bool:
        """Block until the outbox is empty and nothing is in flight (for tests and `sync now`)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                idle = not self._inflight
            if idle and self._outbox.depth() == 0:
                return True
            time.sleep(0.05)
        return False

    # -- MQTT callbacks (paho's network thread)
    def _topic(self, suffix: str) -> str:
        return f"{device_prefix(self.config.tenant, self.config.device_id)}/{suffix}"

    def _on_connect(self, client: mqtt.Client, _: Any, __: Any, reason: Any, ___: Any) -> None:
        if reason.is_failure:
            self.status.last_error = f"broker refused the connection: {reason}"
            log.error("sync: broker refused the connection", extra={"reason": str(reason)})
            return
        disable_nagle(client)
        config = self.config
        birth = Presence(state="online", session_seq=self.status.session_seq, version=config.version)
        client.publish(state_topic(config.tenant, config.device_id), birth.model_dump_json(), qos=1, retain=True)
        client.subscribe(
            [
                (sync_ack_topic(config.tenant, config.device_id), 1),
                (shadow_delta_topic(config.tenant, config.device_id), 1),
                (self._topic("cmd/+"), 1),
            ]
        )
        with self._lock:
            self._inflight.clear()  # whatever was in flight is sent again (the cloud dedupes)
        self.status.connected, self.status.last_error = True, None
        log.info("sync: connected", extra={"broker": f"{config.host}:{config.port}"})
        self._wake.set()

    def _on_disconnect(self, _: mqtt.Client, __: Any, ___: Any, reason: Any, ____: Any) -> None:
        self.status.connected = False
        if not self._stop.is_set():
            self.status.last_error = f"disconnected: {reason}"
            log.warning("sync: disconnected; reconnecting", extra={"reason": str(reason)})

    def _on_message(self, _: mqtt.Client, __: Any, message: mqtt.MQTTMessage) -> None:
        topic = message.topic
        try:
            if topic.endswith("/sync/ack"):
                self._acked(SyncAck.model_validate_json(message.payload))
            elif topic.endswith("/shadow/delta"):
                self._desired(DesiredState.model_validate_json(message.payload))
            elif "/cmd/" in topic and not topic.endswith("/result"):
                threading.Thread(target=self._command, args=(message.payload,), daemon=True).start()
        except ValidationError as exc:
            log.warning("sync: ignored an invalid message", extra={"topic": topic, "reason": str(exc)[:200]})

    def _acked(self, ack: SyncAck) -> None:
        done = [*ack.acked, *(r.msg_id for r in ack.rejected)]
        for rejected in ack.rejected:
            log.error("sync: the cloud rejected a row", extra={"msg_id": rejected.msg_id, "reason": rejected.reason})
        self._outbox.delete(done)
        with self._lock:
            self._inflight.pop(ack.batch_id, None)
        self.status.acked += len(ack.acked)
        self.status.rejected += len(ack.rejected)
        self.status.last_sync_at = time.time()
        self._wake.set()

    def _desired(self, desired: DesiredState) -> None:
        if desired.version <= self.status.applied_version:
            return  # not newer than what is applied: nothing to do (a retained delta seen again)
        if self._on_desired is None:
            report = ReportedState(version=desired.version, accepted=False, reason="this device takes no settings")
        else:
            report = self._on_desired(desired)
        if report.accepted:
            self.status.applied_version = desired.version
        config = self.config
        self._client.publish(shadow_update_topic(config.tenant, config.device_id), report.model_dump_json(), qos=1)

    def _command(self, payload: bytes) -> None:
        try:
            command = Command.model_validate_json(payload)
        except ValidationError as exc:
            log.warning("sync: ignored an invalid command", extra={"reason": str(exc)[:200]})
            return
        if command.expires_at is not None and command.expires_at.timestamp() < time.time():
            result = CommandResult(command_id=command.command_id, ok=False, detail="expired before it arrived")
        elif command.name == "ping":
            result = CommandResult(command_id=command.command_id, ok=True, detail="pong")
        elif command.name == "sync-now":
            self._wake.set()
            result = CommandResult(command_id=command.command_id, ok=True, detail="draining the outbox")
        elif self._on_command is None:
            result = CommandResult(command_id=command.command_id, ok=False, detail="not supported on this device")
        else:
            try:
                result = self._on_command(command)
            except Exception as exc:  # a failing command answers with its error, the agent goes on
                result = CommandResult(command_id=command.command_id, ok=False, detail=f"failed: {exc}"[:2000])
        topic = command_result_topic(self.config.tenant, self.config.device_id, command.command_id)
        self._client.publish(topic, result.model_dump_json(), qos=1)

    # -- the drain thread
    def _drain_loop(self) -> None:
        next_telemetry = time.monotonic()
        while not self._stop.is_set():
            if self.status.connected:
                self._resend_overdue()
                self._send_batches()
                if self._telemetry is not None and time.monotonic() >= next_telemetry:
                    self._send_telemetry()
                    next_telemetry = time.monotonic() + self.config.telemetry_every_s
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
            batch = SyncBatch(device_id=self.config.device_id, batch_id=uuid.uuid4().hex, items=items)
            with self._lock:
                self._inflight[batch.batch_id] = _InFlight(batch.batch_id, [i.msg_id for i in items], time.monotonic())
            info = self._client.publish(
                sync_up_topic(self.config.tenant, self.config.device_id), batch.model_dump_json(), qos=1
            )
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                with self._lock:
                    self._inflight.pop(batch.batch_id, None)
                return

    def _resend_overdue(self) -> None:
        now = time.monotonic()
        with self._lock:
            overdue = [b for b, f in self._inflight.items() if now - f.sent_at > self.config.ack_timeout_s]
            for batch_id in overdue:
                del self._inflight[batch_id]
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

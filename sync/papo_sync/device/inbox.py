"""The cloud's requests to the device (desired state, commands, alert updates), in order on one worker thread."""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from pydantic import ValidationError

from papo_sync.device.gate import FleetGate, RefusedError
from papo_sync.protocol import (
    AlertUpdate,
    Command,
    CommandName,
    CommandResult,
    DesiredState,
    ReportedState,
    command_result_topic,
    shadow_update_topic,
)
from papo_sync.signing import SignatureError

log = logging.getLogger(__name__)

Publish = Callable[[str, str], object]
"""Send a JSON payload on a topic at QoS 1 (thread-safe: paho's publish)."""

MAX_WAITING = 256
"""Requests queued beyond this are dropped (a command unanswered times out; a desired state is retained)."""


class AppliedVersion(Protocol):
    """Where the version of the applied desired state is kept (the agent's status)."""

    applied_version: int


@dataclass(frozen=True)
class Request:
    """A request as it came off the wire: what kind (from its topic) and the unparsed payload."""

    kind: Literal["desired", "command", "alert"]
    payload: bytes
    command_id: str = ""  # a command's id as its topic names it (where a refusal is answered)


class Inbox:
    """Runs desired-state handling and commands on ONE worker thread, in the order the broker delivered them.

    paho's network thread only enqueues: it must keep reading packets and answering keepalives, while a
    handler may take seconds (erasing the history, reopening the audio input). One worker, rather than a
    thread per command, keeps requests ordered (a desired state and a later command see each other's effects),
    never concurrent with each other, and bounded in number. Payloads are validated here, off the network thread.

    Only what the `gate` lets through (signed by the fleet key, for this device, current, never seen) is acted
    on; anything else is refused with the reason (ReportedState accepted=false, CommandResult ok=false; an alert
    update refused is only logged: the device answers nothing on that topic). Without a gate every request is
    refused. An alert update that passes is handed to `on_alert` (the companion's voice of the alert).
    """

    def __init__(
        self,
        tenant: str,
        device_id: str,
        publish: Publish,
        status: AppliedVersion,
        on_desired: Callable[[DesiredState], ReportedState] | None = None,
        on_command: Callable[[Command], CommandResult] | None = None,
        sync_now: Callable[[], None] | None = None,
        gate: FleetGate | None = None,
        on_alert: Callable[[AlertUpdate], None] | None = None,
    ) -> None:
        self._tenant, self._device_id = tenant, device_id
        self._gate = gate or FleetGate(None, None, tenant, device_id)
        self._publish = publish
        self._status = status
        self._on_desired = on_desired
        self._on_command = on_command
        self._sync_now = sync_now
        self._on_alert = on_alert
        self._queue: queue.Queue[Request | None] = queue.Queue(maxsize=MAX_WAITING)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the worker thread."""
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="sync-inbox", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop after the request being handled (those still waiting are dropped: the cloud sends them again)."""
        self._stopping.set()
        with contextlib.suppress(queue.Full):  # when full, the worker sees `_stopping` after its current request
            self._queue.put_nowait(None)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=timeout_s)

    def put(self, request: Request) -> None:
        """Queue a request (never blocks: called on paho's network thread)."""
        try:
            self._queue.put_nowait(request)
        except queue.Full:
            log.warning("sync: too many requests waiting; dropped one", extra={"kind": request.kind})

    def _run(self) -> None:
        while True:
            request = self._queue.get()
            if request is None or self._stopping.is_set():
                return
            try:
                if request.kind == "desired":
                    self._desired(request.payload)
                elif request.kind == "alert":
                    self._alert(request.payload)
                else:
                    self._command(request.payload, request.command_id)
            except ValidationError as exc:
                log.warning("sync: ignored an invalid request", extra={"kind": request.kind, "reason": str(exc)[:200]})
            except Exception:  # the worker outlives any one request
                log.exception("sync: a request failed", extra={"kind": request.kind})

    def _desired(self, payload: bytes) -> None:
        try:
            desired = self._gate.desired(payload)
        except SignatureError as refusal:
            if isinstance(refusal, RefusedError) and refusal.silent:
                return  # the retained delta seen again: handled already
            log.warning("sync: refused a desired state", extra={"reason": str(refusal)[:200]})
            # the version the device still runs, not the request's (which may be anybody's number)
            refused = ReportedState(version=self._status.applied_version, accepted=False, reason=str(refusal)[:500])
            self._publish(shadow_update_topic(self._tenant, self._device_id), refused.model_dump_json())
            return
        if desired.version <= self._status.applied_version:
            return  # not newer than what is applied: nothing to do (a retained delta seen again)
        if self._on_desired is None:
            report = ReportedState(version=desired.version, accepted=False, reason="this device takes no settings")
        else:
            report = self._on_desired(desired)
        if report.accepted:
            self._status.applied_version = desired.version
        self._publish(shadow_update_topic(self._tenant, self._device_id), report.model_dump_json())

    def _alert(self, payload: bytes) -> None:
        """Hand a signed, newer alert update to `on_alert`; refuse anything else with the reason in the log."""
        try:
            update = self._gate.alert(payload)
        except SignatureError as refusal:
            if isinstance(refusal, RefusedError) and refusal.silent:
                log.debug("sync: an alert update seen before", extra={"reason": str(refusal)[:200]})
                return
            log.warning("sync: refused an alert update", extra={"reason": str(refusal)[:200]})
            return
        ids = {"alert_id": update.alert_id, "msg_id": update.msg_id, "seq": update.seq}
        log.info("sync: alert update", extra=ids | {"state": update.state.value})
        if self._on_alert is not None:
            self._on_alert(update)

    def _command(self, payload: bytes, command_id: str) -> None:
        try:
            command = self._gate.command(payload, command_id)
        except SignatureError as refusal:
            log.warning("sync: refused a command", extra={"command_id": command_id, "reason": str(refusal)[:200]})
            result = CommandResult(command_id=command_id, ok=False, detail=f"refused: {refusal}"[:2000])
        else:
            result = self._answer(command)
        self._publish(command_result_topic(self._tenant, self._device_id, command_id), result.model_dump_json())

    def _answer(self, command: Command) -> CommandResult:
        def answer(ok: bool, detail: str) -> CommandResult:
            return CommandResult(command_id=command.command_id, ok=ok, detail=detail)

        if command.expires_at is not None and command.expires_at.timestamp() < time.time():
            return answer(False, "expired before it arrived")
        if command.name is CommandName.PING:
            return answer(True, "pong")
        if command.name is CommandName.SYNC_NOW:
            if self._sync_now is not None:
                self._sync_now()
            return answer(True, "draining the outbox")
        if self._on_command is None:
            return answer(False, "not supported on this device")
        try:
            return self._on_command(command)
        except Exception as exc:  # a failing command answers with its error, the agent goes on
            return answer(False, f"failed: {exc}"[:2000])

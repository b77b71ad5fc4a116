"""The device's gate for the fleet's requests: only signed, current, never-seen desired state, commands and alerts pass.

A desired state must be newer than the last one that passed (its version is its sequence); a command's id
must not have passed before, and it must not have expired; an alert update must be newer (its `seq`) than the
last that passed for its alert. What passed is kept in a 0600 file in the state directory, so a restart does
not reopen the door to replays.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from papo_sync.protocol import AlertUpdate, Command, DesiredState, SignedBody
from papo_sync.signing import CLOCK_SKEW, MAX_ALERT_LIFETIME, SignatureError, load_public_key, open_signed

log = logging.getLogger(__name__)

__all__ = ["FleetGate", "RefusedError", "ReplayGuard", "SignatureError", "load_gate_key"]


class RefusedError(SignatureError):
    """RefusedError; `silent` when it needs no answer (the retained desired state delivered again on reconnecting)."""

    def __init__(self, reason: str, silent: bool = False) -> None:
        super().__init__(reason)
        self.silent = silent


@dataclass
class _Seen:
    desired: int = 0
    command: int = 0
    commands: dict[str, float] = field(default_factory=dict)  # command id -> until when it is remembered (epoch s)
    alerts: dict[str, tuple[int, float]] = field(default_factory=dict)  # alert id -> (highest seq, remembered until)


class ReplayGuard:
    """The highest desired version and the command ids that passed, kept in `path` (mode 0600)."""

    def __init__(self, path: Path, applied_version: int = 0) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._seen = self._load()
        self._seen.desired = max(self._seen.desired, applied_version)

    def _load(self) -> _Seen:
        try:
            data = json.loads(self._path.read_text())
            commands = {str(k): float(v) for k, v in data["commands"].items()}
            alerts = {str(k): (int(v[0]), float(v[1])) for k, v in data.get("alerts", {}).items()}
            return _Seen(int(data["desired"]), int(data["command"]), commands, alerts)
        except FileNotFoundError:
            return _Seen()
        except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            log.warning("sync: the replay record is unreadable; starting a new one", extra={"reason": str(exc)[:200]})
            return _Seen()

    def _save(self) -> None:
        """Keep the record (0600, replaced whole); if the disk refuses, it still holds in memory until a restart."""
        seen = self._seen
        text = json.dumps(
            {"desired": seen.desired, "command": seen.command, "commands": seen.commands, "alerts": seen.alerts}
        )
        temporary = self._path.with_suffix(".tmp")
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w") as file:
                file.write(text)
            temporary.replace(self._path)
        except OSError as exc:
            log.warning("sync: cannot keep the replay record", extra={"reason": str(exc)[:200]})

    @property
    def desired(self) -> int:
        """The highest desired version that passed."""
        return self._seen.desired

    def pass_desired(self, version: int) -> None:
        """Let `version` through if newer than every one before (RefusedError otherwise) and remember it."""
        with self._lock:
            if version == self._seen.desired:
                raise RefusedError(f"version {version} was already handled", silent=True)
            if version < self._seen.desired:
                raise RefusedError(f"replayed: desired version {version} is older than {self._seen.desired}")
            self._seen.desired = version
            self._save()

    def pass_command(self, command_id: str, sequence: int, until: datetime, now: datetime) -> None:
        """Let a command through once (RefusedError if its id passed before) and remember its id until `until`."""
        with self._lock:
            self._seen.commands = {k: v for k, v in self._seen.commands.items() if v >= now.timestamp()}
            if command_id in self._seen.commands:
                raise RefusedError(f"replayed: command {command_id} was already handled")
            self._seen.commands[command_id] = (until + CLOCK_SKEW).timestamp()
            self._seen.command = max(self._seen.command, sequence)
            self._save()

    def pass_alert(self, alert_id: str, seq: int, now: datetime) -> None:
        """Let an alert update through if its `seq` is above every one that passed for its alert, and remember it.

        RefusedError otherwise (silent: a replay or two cloud instances' publications crossing needs no answer).
        An alert is remembered as long as an update of it can still be valid (a day, and the clock skew): an older
        update is refused by its signature's expiry anyway, so the record stays small.
        """
        with self._lock:
            at = now.timestamp()
            self._seen.alerts = {k: v for k, v in self._seen.alerts.items() if v[1] >= at}
            last = self._seen.alerts.get(alert_id, (0, 0.0))[0]
            if seq <= last:
                raise RefusedError(f"alert {alert_id}: update {seq} is not newer than {last}", silent=True)
            self._seen.alerts[alert_id] = (seq, at + (MAX_ALERT_LIFETIME + CLOCK_SKEW * 2).total_seconds())
            self._save()


def load_gate_key(path: Path | None) -> tuple[Ed25519PublicKey | None, str | None]:
    """The fleet's public key from `path`, or None and why not (no key set, unreadable, open to others, not a key)."""
    if path is None:
        return None, "this device has no fleet public key (set sync.fleet_public_key): every fleet request is refused"
    try:
        if path.stat().st_mode & 0o022:
            return None, f"the fleet public key {path} may be changed by other users (chmod 644 it)"
        return load_public_key(path), None
    except (OSError, ValueError) as exc:
        return None, f"the fleet public key {path} cannot be used: {exc}"


class FleetGate:
    """Opens the fleet's signed requests for one device, or refuses them with the reason to report.

    Without a usable key every request is refused (said once in the log); nothing unsigned ever passes.
    """

    def __init__(
        self,
        key: Ed25519PublicKey | None,
        guard: ReplayGuard | None,
        tenant: str,
        device_id: str,
        problem: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._key, self._guard = key, guard
        self._tenant, self._device_id = tenant, device_id
        self._problem = problem or "this device has no fleet public key (set sync.fleet_public_key)"
        self._clock = clock

    def _open(self, payload: bytes) -> SignedBody:
        if self._key is None or self._guard is None:
            raise RefusedError(self._problem)
        return open_signed(payload, self._key, self._tenant, self._device_id, self._clock())

    def desired(self, payload: bytes) -> DesiredState:
        """The desired state in `payload` if signed, current and newer than any before; RefusedError otherwise."""
        body = self._open(payload)
        if body.desired is None:
            raise RefusedError("signed, but not a desired state")
        assert self._guard is not None
        self._guard.pass_desired(body.sequence)
        return body.desired

    def command(self, payload: bytes, topic_id: str) -> Command:
        """The command in `payload` if signed, current, for its topic and never seen; RefusedError otherwise."""
        body = self._open(payload)
        if body.command is None:
            raise RefusedError("signed, but not a command")
        if body.command.command_id != topic_id:
            raise RefusedError(f"signed for command {body.command.command_id}, sent as {topic_id}")
        assert self._guard is not None
        self._guard.pass_command(topic_id, body.sequence, body.expires_at, self._clock())
        return body.command

    def alert(self, payload: bytes) -> AlertUpdate:
        """The alert update in `payload` if signed, current, for this device and newer than any of its alert before.

        RefusedError otherwise (silent for one not newer: a replay or a duplicate, nothing to say about it).
        """
        body = self._open(payload)
        if body.kind != "alert" or body.alert is None:
            raise RefusedError("signed, but not an alert update")
        if body.sequence != body.alert.seq:
            raise RefusedError(f"signed as sequence {body.sequence} for update {body.alert.seq}")
        assert self._guard is not None
        self._guard.pass_alert(body.alert.alert_id, body.alert.seq, self._clock())
        return body.alert

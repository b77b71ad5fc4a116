"""One CPU budget across the models: the cores this process may use, and every library's thread count from them.

The cores are the fewer of the CPUs in the affinity mask (`taskset`, `AllowedCPUs=`) and the cgroup's CPU quota
(`CPUQuota=`, `docker --cpus`: cgroup v2 `cpu.max`, v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`, the tightest
along the cgroup's ancestors). Each library otherwise sizes its pool for every CPU it sees, and on a board with
few slow cores the pools of Whisper, llama.cpp and the TTS fight each other over the same cores.

The voice path comes first: the speech-to-text decode gets the cores (it runs alone at the end of speech), the
neural voice at most half of them (it voices a sentence while the model writes the next), the VAD one thread, the
embeddings one. llama.cpp writes with one core fewer than there are (from 3 cores up) and reads the prompt with
all of them. Starting the answer at a pause (anticipation) needs a core besides the voice path's.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Final

from papo.system.logging import fields

log = logging.getLogger(__name__)

CGROUP_ROOT: Final = Path("/sys/fs/cgroup")
MAX_STT_THREADS: Final = 4  # CTranslate2 on whisper-base gains little past 4 threads
MAX_LLM_THREADS: Final = 8


@dataclass(frozen=True)
class CpuAllowance:
    """The CPUs of the affinity mask and the cgroup quota in cores (None: no quota)."""

    affinity: int
    quota: float | None

    @property
    def effective(self) -> float:
        """The cores this process may keep busy: the fewer of the two."""
        return float(self.affinity) if self.quota is None else min(float(self.affinity), self.quota)


@dataclass(frozen=True)
class ThreadBudget:
    """Thread counts for every model library, set together from the effective cores."""

    effective_cores: float
    cores: int
    stt_threads: int
    tts_threads: int
    vad_threads: int
    embedding_threads: int
    llm_threads: int
    llm_batch_threads: int
    anticipation_cores: int

    @property
    def anticipation(self) -> bool:
        """Whether anticipation has a core of its own beside the voice path's."""
        return self.anticipation_cores >= 1


def parse_cpu_max(text: str) -> float | None:
    """Cores granted by a cgroup v2 `cpu.max` ("QUOTA PERIOD" in µs, "max": unlimited)."""
    parts = text.split()
    if not parts or parts[0] == "max":
        return None
    period = int(parts[1]) if len(parts) > 1 else 100_000
    return int(parts[0]) / period if period > 0 else None


def parse_cfs(quota_us: str, period_us: str) -> float | None:
    """Cores granted by cgroup v1 `cpu.cfs_quota_us` and `cpu.cfs_period_us` (quota -1: unlimited)."""
    quota, period = int(quota_us.strip()), int(period_us.strip())
    return quota / period if quota > 0 and period > 0 else None


def cgroup_paths(proc_cgroup: str) -> tuple[str | None, str | None]:
    """The v2 path (the "0::" line) and the v1 path of the `cpu` controller, from /proc/self/cgroup's text."""
    unified = v1 = None
    for line in proc_cgroup.splitlines():
        number, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if number == "0" and controllers == "":
            unified = path
        elif "cpu" in controllers.split(","):
            v1 = path
    return unified, v1


def _along(base: Path, path: str) -> list[Path]:
    """`base`/`path` and each of its ancestors up to `base` itself."""
    parts = [part for part in path.split("/") if part]
    return [base.joinpath(*parts[:depth]) for depth in range(len(parts), -1, -1)]


def _tightest(quotas: list[float | None]) -> float | None:
    known = [q for q in quotas if q is not None]
    return min(known) if known else None


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii")
    except OSError:
        return None


def cgroup_quota(proc_cgroup: str, root: Path = CGROUP_ROOT) -> float | None:
    """The tightest CPU quota, in cores, on this cgroup and its ancestors (v2 then v1 files under `root`)."""
    unified, v1 = cgroup_paths(proc_cgroup)
    quotas: list[float | None] = []
    if unified is not None:
        for base in (root, root / "unified"):
            for directory in _along(base, unified):
                text = _read(directory / "cpu.max")
                if text is not None:
                    quotas.append(parse_cpu_max(text))
    if v1 is not None:
        for base in (root / "cpu", root / "cpu,cpuacct"):
            for directory in _along(base, v1):
                quota, period = _read(directory / "cpu.cfs_quota_us"), _read(directory / "cpu.cfs_period_us")
                if quota is not None and period is not None:
                    quotas.append(parse_cfs(quota, period))
    return _tightest(quotas)


def cpu_allowance(root: Path = CGROUP_ROOT, proc_cgroup: str | None = None) -> CpuAllowance:
    """The affinity mask's CPUs and the cgroup quota of this process."""
    text = proc_cgroup if proc_cgroup is not None else (_read(Path("/proc/self/cgroup")) or "")
    return CpuAllowance(len(os.sched_getaffinity(0)), cgroup_quota(text, root))


def budget_for(effective_cores: float) -> ThreadBudget:
    """The thread counts for `effective_cores` (a quota may grant a fraction: 1.5 cores count as 2)."""
    cores = max(1, math.floor(effective_cores + 0.5))
    return ThreadBudget(
        effective_cores=round(effective_cores, 2),
        cores=cores,
        stt_threads=min(cores, MAX_STT_THREADS),
        tts_threads=max(1, min(2, cores // 2)),
        vad_threads=1,
        embedding_threads=1,
        llm_threads=min(MAX_LLM_THREADS, cores - 1 if cores >= 3 else cores),
        llm_batch_threads=min(MAX_LLM_THREADS, cores),
        anticipation_cores=cores - 1,
    )


@cache
def current_budget() -> ThreadBudget:
    """The budget of the running process, computed and logged once."""
    allowance = cpu_allowance()
    budget = budget_for(allowance.effective)
    log.info(
        "cpu budget",
        extra=fields(affinity_cpus=allowance.affinity, quota_cores=allowance.quota, **asdict(budget)),
    )
    return budget


def threads_or_budget(explicit: int, budgeted: int) -> int:
    """A thread setting: its own value, or the budget's when it is 0 (auto)."""
    return explicit if explicit > 0 else budgeted


def room_to_anticipate(budget: ThreadBudget) -> bool:
    """Whether to start an answer at a pause: there is a core beside the voice path's.

    Not the load average: it counts papo's own listening and answering, so on two cores the second always looked
    taken at a pause (bench/turn.py, no envelope: the embedded model's streamed path fell to 1.03x sequential).
    """
    return budget.anticipation


def anticipation_room(budget: Callable[[], ThreadBudget] = current_budget) -> Callable[[], bool]:
    """The check the anticipator makes at each pause, from the CPU budget."""
    return lambda: room_to_anticipate(budget())

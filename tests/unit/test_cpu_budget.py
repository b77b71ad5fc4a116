"""The CPU budget: cores from the affinity mask and the cgroup quota, thread counts from them, the anticipation rule."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import pytest

from papo.conversation.anticipation import Anticipator, WhenRoom
from papo.speech.stt import Transcript
from papo.system.cpu_budget import (
    CpuAllowance,
    budget_for,
    cgroup_quota,
    parse_cfs,
    parse_cpu_max,
    room_to_anticipate,
    threads_or_budget,
)
from support.wait import wait_until

V2 = "0::/system.slice/papo.service\n"
V1 = "4:memory:/other\n2:cpu,cpuacct:/papo\n1:name=systemd:/\n"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize(
    ("cores", "stt", "tts", "llm", "llm_batch", "anticipation"),
    [
        (0.3, 1, 1, 1, 1, 0),  # a fraction of a core still gets one thread each
        (1.0, 1, 1, 1, 1, 0),
        (1.4, 1, 1, 1, 1, 0),
        (1.5, 2, 1, 2, 2, 1),  # a quota of 1.5 cores counts as 2
        (2.0, 2, 1, 2, 2, 1),  # 2 cores: llama.cpp keeps both (no regression), the voice one
        (4.0, 4, 2, 3, 4, 3),  # a Pi: llama.cpp writes with one core left for the voice
        (16.0, 4, 2, 8, 8, 15),  # Whisper and llama.cpp gain little past their caps
    ],
)
def test_thread_counts_follow_the_cores(
    cores: float, stt: int, tts: int, llm: int, llm_batch: int, anticipation: int
) -> None:
    budget = budget_for(cores)
    assert (budget.stt_threads, budget.tts_threads, budget.llm_threads, budget.llm_batch_threads) == (
        stt, tts, llm, llm_batch,
    )  # fmt: skip
    assert budget.vad_threads == budget.embedding_threads == 1
    assert budget.anticipation_cores == anticipation
    assert budget.anticipation is (anticipation >= 1)


def test_the_fewer_of_affinity_and_quota_are_the_cores() -> None:
    assert CpuAllowance(2, None).effective == 2.0
    assert CpuAllowance(2, 0.75).effective == 0.75
    assert CpuAllowance(1, 3.0).effective == 1.0


def test_an_explicit_thread_setting_wins_over_the_budget() -> None:
    assert threads_or_budget(0, 3) == 3
    assert threads_or_budget(1, 3) == 1


def test_quota_files_are_parsed() -> None:
    assert parse_cpu_max("max 100000\n") is None
    assert parse_cpu_max("150000 100000\n") == 1.5
    assert parse_cpu_max("5000 10000") == 0.5
    assert parse_cfs("-1\n", "100000\n") is None
    assert parse_cfs("50000\n", "100000\n") == 0.5


def test_cgroup_v2_quota_of_the_process_cgroup(tmp_path: Path) -> None:
    _write(tmp_path / "system.slice/papo.service/cpu.max", "120000 100000\n")
    _write(tmp_path / "system.slice/cpu.max", "max 100000\n")
    assert cgroup_quota(V2, tmp_path) == 1.2


def test_cgroup_v2_quota_of_an_ancestor_binds(tmp_path: Path) -> None:
    _write(tmp_path / "system.slice/papo.service/cpu.max", "max 100000\n")
    _write(tmp_path / "system.slice/cpu.max", "80000 100000\n")
    assert cgroup_quota(V2, tmp_path) == 0.8


def test_cgroup_v2_in_the_hybrid_unified_mount(tmp_path: Path) -> None:
    _write(tmp_path / "unified/system.slice/papo.service/cpu.max", "200000 100000\n")
    assert cgroup_quota(V2, tmp_path) == 2.0


def test_cgroup_v1_cfs_quota_of_the_cpu_controller(tmp_path: Path) -> None:
    _write(tmp_path / "cpu/papo/cpu.cfs_quota_us", "25000\n")
    _write(tmp_path / "cpu/papo/cpu.cfs_period_us", "10000\n")
    _write(tmp_path / "cpu/cpu.cfs_quota_us", "-1\n")
    _write(tmp_path / "cpu/cpu.cfs_period_us", "100000\n")
    assert cgroup_quota(V1, tmp_path) == 2.5


def test_no_cgroup_files_means_no_quota(tmp_path: Path) -> None:
    assert cgroup_quota(V2 + V1, tmp_path) is None
    assert cgroup_quota("", tmp_path) is None


@pytest.mark.parametrize(
    ("cores", "room"),
    [
        (1.0, False),  # one core: the voice path's, never anticipation's
        (0.9, False),  # a Pi 5 envelope on 2 host cores
        (0.41, False),  # a Pi 4 envelope
        (2.0, True),
        (4.0, True),
    ],
)
def test_anticipation_only_with_a_core_beside_the_voice_path(cores: float, room: bool) -> None:
    assert room_to_anticipate(budget_for(cores)) is room


class _Recorder:
    def __init__(self) -> None:
        self.events: list[str] = []

    def on_pause(self, transcript: Future[Transcript | None]) -> None:
        self.events.append("pause")

    def on_resume(self) -> None:
        self.events.append("resume")


def test_a_pause_without_room_leaves_the_turn_to_the_sequential_path() -> None:
    recorder = _Recorder()
    rooms = iter([True, False])
    gate = WhenRoom(recorder, lambda: next(rooms))  # type: ignore[arg-type]
    gate.on_pause(Future())
    gate.on_pause(Future())  # no room: the earlier preparation is dropped, none started
    gate.on_resume()
    assert recorder.events == ["pause", "resume", "resume"]
    assert gate.skipped == 1


class _HeldLlm:
    """A model that writes one word, then waits until told to go on, without ever ending a sentence."""

    def __init__(self) -> None:
        self.go_on = threading.Event()
        self.closed = threading.Event()
        self.words = 0

    def stream(self, messages: object, max_tokens: int, temperature: float, **_: object) -> Iterator[str]:
        try:
            for _ in range(1000):
                self.words += 1
                yield "palavra "
                self.go_on.wait(5)
        finally:
            self.closed.set()


def test_an_answer_abandoned_when_speech_goes_on_stops_at_its_next_word() -> None:
    llm = _HeldLlm()
    anticipator = Anticipator(None, lambda: llm, lambda text: [], 60, 0.6)  # type: ignore[arg-type]
    heard: Future[Transcript | None] = Future()
    heard.set_result(Transcript("Hoje eu fui na feira", "pt", 0.01, -0.2, 1.2, "short", 1.0))
    try:
        anticipator.on_pause(heard)
        wait_until(lambda: llm.words == 1, 5, "the first word")
        anticipator.on_resume()
        llm.go_on.set()
        assert llm.closed.wait(5)
        assert llm.words == 2  # the word after the resume was the last one asked of the model
    finally:
        anticipator.close()

"""The watchdog pings only while papo's own checks pass: the loop keeps time, frames arrive, no decode is stuck."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from papo.audio import FRAME_SAMPLES
from papo.service import PipelineState, VoiceService
from papo.settings import load_settings
from papo.store import Store
from papo.system.notify import Notifier
from papo.system.vitals import TimedExecutor, Vitals
from papo.system.watchdog import Limits, Watchdog, failing, start_watchdog
from support.pipeline_fakes import BlockTranscriber, FakeEngine

INTERVAL_S = 15.0  # WatchdogSec=30
LIMITS = Limits()


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Pings:
    """A notifier's `send`, counting WATCHDOG=1."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, message: str) -> None:
        assert message == "WATCHDOG=1"
        self.count += 1


def _watchdog(clock: Clock, vitals: Vitals) -> tuple[Watchdog, Pings]:
    pings = Pings()
    return Watchdog(Notifier(pings), vitals, INTERVAL_S, clock=clock), pings


def _run_for(watchdog: Watchdog, clock: Clock, seconds: float, each_tick: object = None) -> list[bool]:
    """Tick on time for `seconds` (calling `each_tick` first, if given); the ping decisions taken."""
    decisions = []
    for _ in range(round(seconds / watchdog.tick_s)):
        clock.now += watchdog.tick_s
        if callable(each_tick):
            each_tick()
        decision = watchdog.tick()
        if decision is not None:
            decisions.append(decision)
    return decisions


def test_frames_arriving_keep_the_pings_going_and_a_busy_decode_does_not_stop_them() -> None:
    clock = Clock()
    vitals = Vitals(clock)
    watchdog, pings = _watchdog(clock, vitals)
    vitals.frame()
    vitals.decode_started()  # a long utterance being decoded: busy, not stuck
    assert _run_for(watchdog, clock, 45, each_tick=vitals.frame) == [True, True, True]
    assert pings.count == 3


def test_frames_that_stop_arriving_stop_the_pings_within_half_watchdog_sec_and_say_why_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    vitals = Vitals(clock)
    watchdog, pings = _watchdog(clock, vitals)
    vitals.frame()
    assert _run_for(watchdog, clock, 15, each_tick=vitals.frame) == [True]
    with caplog.at_level(logging.INFO, logger="papo.system.watchdog"):
        assert _run_for(watchdog, clock, 30) == [False, False]  # no frame since the last ping: none vouches for it
        assert [r.getMessage() for r in caplog.records] == ["watchdog ping withheld"]
        assert "no audio frames for" in caplog.records[0].__dict__["reasons"]
        assert _run_for(watchdog, clock, 15, each_tick=vitals.frame) == [True]  # frames again: pings again
        assert caplog.records[-1].getMessage() == "watchdog checks pass again"
    assert pings.count == 2


def test_the_last_ping_after_frames_stop_comes_within_the_frame_gap() -> None:
    clock = Clock()
    vitals = Vitals(clock)
    vitals.frame()
    assert failing(vitals, clock.now + LIMITS.frame_gap_s, 0.0, LIMITS) == []
    assert failing(vitals, clock.now + LIMITS.frame_gap_s + 0.1, 0.0, LIMITS) == ["no audio frames for 5.1 s"]
    assert LIMITS.frame_gap_s < INTERVAL_S  # so no ping vouches for a hung input later than WatchdogSec/2


def test_a_missing_input_being_retried_passes_an_overdue_retry_or_a_hung_open_does_not() -> None:
    clock = Clock()
    vitals = Vitals(clock)
    vitals.waiting(60.0)  # no microphone: the next try in a minute
    assert failing(vitals, clock.now + 60.0, 0.0, LIMITS) == []
    assert failing(vitals, clock.now + 66.0, 0.0, LIMITS) == ["audio input retry 6.0 s overdue"]
    vitals.opening()
    assert failing(vitals, clock.now + LIMITS.open_s, 0.0, LIMITS) == []
    assert failing(vitals, clock.now + 30.0, 0.0, LIMITS) == ["opening the audio input for 30.0 s"]
    vitals.idle()  # models loading, or stopped: nothing to judge on the input
    assert failing(vitals, clock.now + 600.0, 0.0, LIMITS) == []


def test_a_stuck_decode_or_a_lagging_loop_stops_the_pings() -> None:
    clock = Clock()
    vitals = Vitals(clock)
    watchdog, pings = _watchdog(clock, vitals)
    vitals.decode_started()
    assert _run_for(watchdog, clock, 60) == [True, True, True, True]  # 60 s of decoding: still within the bound
    assert _run_for(watchdog, clock, 15) == [False]
    vitals.decode_finished()
    assert _run_for(watchdog, clock, 15) == [True]
    clock.now += 7.0  # the loop was blocked for 7 s: the tick comes 6 s late
    assert watchdog.tick() is None
    assert _run_for(watchdog, clock, 15) == [False]
    assert _run_for(watchdog, clock, 15) == [True]
    assert pings.count == 6


def test_the_stt_worker_stamps_each_decode_while_it_runs() -> None:
    clock = Clock()
    vitals = Vitals(clock)
    started, release = threading.Event(), threading.Event()

    def decode() -> str:
        started.set()
        release.wait(5)
        return "done"

    with TimedExecutor(vitals) as executor:
        future = executor.submit(decode)
        assert started.wait(5)
        assert vitals.decoding_since == clock.now
        release.set()
        assert future.result(5) == "done"
    assert vitals.decoding_since is None


def test_no_watchdog_task_unless_systemd_asked_for_one() -> None:
    async def started(environ: dict[str, str], notifier: Notifier) -> bool:
        task = start_watchdog(notifier, Vitals(), environ)
        if task is None:
            return False
        task.cancel()
        return True

    listening = Notifier(lambda _: None)
    assert asyncio.run(started({"WATCHDOG_USEC": "30000000"}, listening))
    assert not asyncio.run(started({}, listening))
    assert not asyncio.run(started({"WATCHDOG_USEC": "30000000"}, Notifier(None)))


class HangingSource:
    """A FrameSource whose fourth read hangs (a hung audio driver) until released."""

    name = "hanging microphone"
    overruns = 0

    def __init__(self) -> None:
        self.reads = 0
        self.hung = threading.Event()
        self.release = threading.Event()

    def read(self) -> npt.NDArray[np.float32]:
        self.reads += 1
        if self.reads == 4:
            self.hung.set()
            self.release.wait(10)
        return np.zeros(FRAME_SAMPLES, np.float32)

    def close(self) -> None:
        return


def test_the_real_pipeline_on_a_hanging_microphone_fails_the_frame_check(state_dir: Path) -> None:
    settings = load_settings()
    store = Store(settings.store_path, settings.device_id, 300)
    engine = FakeEngine(settings, Path("unused.onnx"), BlockTranscriber([]), 0.0)
    source = HangingSource()
    service = VoiceService(settings, store, lambda: source, lambda _: engine)
    clock = Clock()
    service.vitals.clock = clock

    async def hang_then_judge() -> list[str]:
        running = asyncio.create_task(service.run())
        await asyncio.to_thread(source.hung.wait, 10)
        assert service.status.state is PipelineState.LISTENING
        fresh = failing(service.vitals, clock.now, 0.0, LIMITS)
        reasons = failing(service.vitals, clock.now + 6.0, 0.0, LIMITS)
        service.stop()
        source.release.set()
        await asyncio.wait_for(running, 10)
        assert fresh == []
        return reasons

    try:
        assert asyncio.run(hang_then_judge()) == ["no audio frames for 6.0 s"]
    finally:
        store.close()

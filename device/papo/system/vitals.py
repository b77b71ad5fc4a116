"""The voice pipeline's signs of life, written where they happen (capture thread, STT worker) and read by the watchdog.

Facts only: when the last frame came, since when the input is being opened or until when a retry waits, since
when a speech-to-text decode runs. The watchdog (papo.system.watchdog) judges them against its limits. Each write
is one attribute assignment (atomic under the GIL), so the capture thread pays next to nothing per frame.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from enum import StrEnum
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class InputPhase(StrEnum):
    """What the audio input side of the pipeline is doing."""

    IDLE = "idle"  # not started yet (models loading) or stopped
    OPENING = "opening"  # the device is being opened (since `input_at`)
    READING = "reading"  # frames are being read (the last one came at `input_at`)
    WAITING = "waiting"  # the input is known absent; the next try is due at `input_at`


class Vitals:
    """Signs of life of the audio input and the STT worker, stamped with `clock` (monotonic seconds)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.input_phase = InputPhase.IDLE
        self.input_at = clock()
        self.decoding_since: float | None = None

    def opening(self) -> None:
        """The audio input is being opened now."""
        self.input_phase, self.input_at = InputPhase.OPENING, self.clock()

    def frame(self) -> None:
        """A frame of audio arrived now (also called once when reading starts)."""
        self.input_phase, self.input_at = InputPhase.READING, self.clock()

    def waiting(self, delay_s: float) -> None:
        """The input is absent; it is tried again in `delay_s` seconds."""
        self.input_phase, self.input_at = InputPhase.WAITING, self.clock() + delay_s

    def idle(self) -> None:
        """The input is not in use (the pipeline stopped)."""
        self.input_phase, self.input_at = InputPhase.IDLE, self.clock()

    def decode_started(self) -> None:
        """A speech-to-text decode began on the worker thread."""
        self.decoding_since = self.clock()

    def decode_finished(self) -> None:
        """The decode on the worker thread ended (with a transcript or an error)."""
        self.decoding_since = None


class TimedExecutor(ThreadPoolExecutor):
    """The STT worker: a thread pool whose every job stamps `vitals` when it starts and ends on the worker."""

    def __init__(self, vitals: Vitals, max_workers: int = 1, thread_name_prefix: str = "stt") -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix=thread_name_prefix)
        self._vitals = vitals

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Run `fn(*args, **kwargs)` on the worker, its running time recorded in the vitals."""
        vitals = self._vitals

        def timed() -> T:
            vitals.decode_started()
            try:
                return fn(*args, **kwargs)
            finally:
                vitals.decode_finished()

        return super().submit(timed)

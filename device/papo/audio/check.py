"""`papo audio test`: record a few seconds, play them back, and report level, drops and latency."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from papo.audio import FRAME_SAMPLES, SAMPLE_RATE
from papo.audio.native import NativeMicrophone, NativeSpeaker


@dataclass(frozen=True)
class AudioCheck:
    """What a short record-and-play-back round showed."""

    input_device: str
    output_device: str | None
    seconds: float
    rms_dbfs: float
    peak_dbfs: float
    dropped_samples: int
    first_frame_ms: float
    frame_jitter_ms: float
    playback_start_ms: float | None

    @property
    def verdict(self) -> str:
        """A plain-language reading of the input level."""
        if self.peak_dbfs >= -0.1:
            return "too loud: the sound is clipping; lower the microphone gain"
        if self.rms_dbfs < -60:
            return "silent: check that the microphone is connected and not muted"
        if self.rms_dbfs < -45:
            return "quiet: speak closer or raise the microphone gain"
        return "good"


def _dbfs(value: float) -> float:
    return 20 * math.log10(max(value, 1e-9))


def record(microphone: NativeMicrophone, seconds: float) -> tuple[npt.NDArray[np.float32], float, float]:
    """Record `seconds`; return the audio, ms until the first frame and the std of frame intervals (ms)."""
    started = time.monotonic()
    frames, stamps = [], []
    for _ in range(max(1, int(seconds * SAMPLE_RATE / FRAME_SAMPLES))):
        frames.append(microphone.read())
        stamps.append(time.monotonic())
    intervals = np.diff(np.array(stamps)) * 1000 if len(stamps) > 2 else np.zeros(1)
    return np.concatenate(frames), (stamps[0] - started) * 1000, float(np.std(intervals))


def run_check(
    input_device: str | None,
    output_device: str | None,
    seconds: float,
    play_back: bool,
    on_open: Callable[[], None] = lambda: None,
) -> AudioCheck:
    """Record from the input, optionally play it back on the output, and measure; `on_open` once it listens."""
    microphone = NativeMicrophone(input_device)
    on_open()
    try:
        audio, first_ms, jitter_ms = record(microphone, seconds)
        dropped = microphone.stats()["overrun_samples"]
    finally:
        microphone.close()
    playback_ms = None
    speaker_name = None
    if play_back:
        speaker = NativeSpeaker(output_device)
        try:
            speaker_name = speaker.name
            before = speaker.played_samples()
            started = time.monotonic()
            speaker.play(audio, SAMPLE_RATE)
            while speaker.played_samples() == before and time.monotonic() - started < 2:
                time.sleep(0.002)
            playback_ms = (time.monotonic() - started) * 1000
            speaker.wait(seconds + 5)
        finally:
            speaker.close()
    return AudioCheck(
        input_device=microphone.name,
        output_device=speaker_name,
        seconds=len(audio) / SAMPLE_RATE,
        rms_dbfs=_dbfs(float(np.sqrt(np.mean(np.square(audio))))),
        peak_dbfs=_dbfs(float(np.max(np.abs(audio)))),
        dropped_samples=dropped,
        first_frame_ms=first_ms,
        frame_jitter_ms=jitter_ms,
        playback_start_ms=playback_ms,
    )

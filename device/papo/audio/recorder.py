"""A Speaker that records instead of playing: for `--no-play`, machines without a speaker, and tests."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf
import soxr


class RecordingSpeaker:
    """Collects everything played, at one rate, and writes it as a 16-bit WAV file."""

    def __init__(self, rate: int = 22_050, keep: bool = True) -> None:
        self.rate = rate
        self.name = "recorder" if keep else "no speaker"
        self._keep = keep
        self._parts: list[npt.NDArray[np.float32]] = []
        self._lock = threading.Lock()
        self.stops = 0

    def play(self, samples: npt.NDArray[np.float32], rate: int) -> bool:
        """Keep `samples` (resampled to the recorder's rate); dropped at once when not keeping."""
        if not self._keep:
            return True
        audio = np.asarray(samples, dtype=np.float32)
        if rate != self.rate:
            audio = np.asarray(soxr.resample(audio, rate, self.rate, quality="HQ"), dtype=np.float32)
        with self._lock:
            self._parts.append(audio)
        return True

    def wait(self, timeout: float = 30.0) -> bool:
        """Nothing to wait for."""
        return True

    def stop(self) -> None:
        """Count the stop (nothing is playing)."""
        self.stops += 1

    def take(self) -> npt.NDArray[np.float32]:
        """Everything recorded since the last take."""
        with self._lock:
            parts, self._parts = self._parts, []
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)

    def write(self, path: Path) -> float:
        """Write what was recorded since the last take to `path`; its duration in seconds."""
        audio = self.take()
        sf.write(str(path), np.clip(audio, -1.0, 1.0), self.rate, subtype="PCM_16")
        return len(audio) / self.rate

    def close(self) -> None:
        """Nothing to release."""

"""A recording played as if it were a microphone: 32 ms frames at real-time pace, then silence."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import numpy.typing as npt

from papo.audio import FRAME_SAMPLES, SAMPLE_RATE
from papo.audio.wav import read_wav

_FRAME_S = FRAME_SAMPLES / SAMPLE_RATE


class RecordingSource:
    """Frames of a WAV file delivered at the pace a microphone would deliver them."""

    def __init__(self, path: Path) -> None:
        self.name = f"file:{path.name}"
        self._samples = read_wav(path).samples
        self._position = 0
        self._started = time.monotonic()
        self._frames = 0

    @property
    def overruns(self) -> int:
        """A recording never drops audio."""
        return 0

    def read(self) -> npt.NDArray[np.float32]:
        """Return the next frame when its time has come; silence after the end."""
        self._frames += 1
        time.sleep(max(0.0, self._started + self._frames * _FRAME_S - time.monotonic()))
        frame = self._samples[self._position : self._position + FRAME_SAMPLES]
        self._position += FRAME_SAMPLES
        if len(frame) < FRAME_SAMPLES:
            frame = np.pad(frame, (0, FRAME_SAMPLES - len(frame)))
        return frame

    def close(self) -> None:
        """Nothing to release."""

"""Resample mono audio to the pipeline's 16 kHz with soxr (high quality, streaming-capable)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import soxr

from papo.audio import SAMPLE_RATE


def to_pipeline_rate(samples: npt.NDArray[np.float32], rate: int) -> npt.NDArray[np.float32]:
    """Return `samples` (mono float32 at `rate`) resampled to 16 kHz."""
    if rate == SAMPLE_RATE:
        return np.ascontiguousarray(samples, dtype=np.float32)
    return np.asarray(soxr.resample(samples, rate, SAMPLE_RATE, quality="HQ"), dtype=np.float32)

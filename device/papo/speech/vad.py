"""Silero VAD v6 (ONNX) on streaming 32 ms frames: the probability that a frame holds speech."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from papo.audio import FRAME_SAMPLES
from papo.errors import ModelError
from papo.system.cpu_budget import current_budget

_CONTEXT_SAMPLES = 64


class SileroVad:
    """Streaming Silero VAD: keeps its recurrent state and 64-sample context between frames."""

    def __init__(self, model_path: Path) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = current_budget().vad_threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 4
        try:
            self._session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelError(f"cannot load the VAD model {model_path}: {exc}") from None
        self.reset()

    def reset(self) -> None:
        """Forget everything heard so far (start of a new stream)."""
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(_CONTEXT_SAMPLES, dtype=np.float32)

    def probability(self, frame: npt.NDArray[np.float32]) -> float:
        """Return the speech probability of one 512-sample frame at 16 kHz."""
        if frame.shape != (FRAME_SAMPLES,):
            raise ValueError(f"VAD frames must hold {FRAME_SAMPLES} samples, got shape {frame.shape}")
        window = np.concatenate((self._context, frame)).reshape(1, -1)
        prob, self._h, self._c = self._session.run(None, {"input": window, "h": self._h, "c": self._c})
        self._context = frame[-_CONTEXT_SAMPLES:].copy()
        return float(prob.reshape(-1)[0])

"""Choosing the live audio source: the native (Rust/cpal) capture by default, sounddevice on request."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

from papo.settings import AudioSettings


class FrameSource(Protocol):
    """A live audio source: blocking reads of 32 ms, 16 kHz mono float32 frames."""

    name: str

    @property
    def overruns(self) -> int:
        """Audio dropped because the reader fell behind (samples, or events where the backend only counts those)."""
        ...

    def read(self) -> npt.NDArray[np.float32]:
        """Return the next frame."""
        ...

    def close(self) -> None:
        """Release the device."""
        ...


def open_microphone(audio: AudioSettings, device: str | None = None) -> FrameSource:
    """Open the input device (`device`, else audio.input_device, else the default) with the configured backend."""
    wanted = device or audio.input_device
    if audio.backend == "native":
        from papo.audio.native import NativeMicrophone

        return NativeMicrophone(wanted, audio.ring_seconds, audio.read_timeout_s)
    from papo.audio.microphone import SounddeviceMicrophone

    return SounddeviceMicrophone(wanted)

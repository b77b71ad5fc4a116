"""Live capture from an input device through PortAudio (sounddevice), as 16 kHz mono 32 ms frames."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import numpy.typing as npt

from papo.audio import FRAME_SAMPLES, SAMPLE_RATE
from papo.errors import AudioInputError, NoAudioInputError
from papo.system.logging import fields

log = logging.getLogger(__name__)


def _sounddevice() -> Any:
    try:
        import sounddevice
    except OSError as exc:  # raised when the PortAudio library itself is missing
        raise NoAudioInputError(
            f"no audio input: {exc}; install it with `sudo apt-get install libportaudio2`"
        ) from None
    return sounddevice


class SounddeviceMicrophone:
    """An open input stream; `read()` blocks until the next frame is captured."""

    def __init__(self, device: str | None = None) -> None:
        sd = _sounddevice()
        self._sd = sd
        try:
            info = sd.query_devices(_device_arg(device), kind="input")
        except (ValueError, sd.PortAudioError) as exc:
            wanted = f"input device {device!r}" if device else "a default input device"
            raise NoAudioInputError(
                f"no audio input: cannot find {wanted} ({exc}); plug in a microphone or set audio.input_device "
                "(list devices with `python -m sounddevice`)"
            ) from None
        self.name = str(info["name"])
        self._rate = SAMPLE_RATE
        try:
            sd.check_input_settings(device=info["index"], samplerate=SAMPLE_RATE, channels=1, dtype="float32")
        except sd.PortAudioError:
            self._rate = int(info["default_samplerate"])
        self._block = FRAME_SAMPLES * self._rate // SAMPLE_RATE
        self._resampler = _resampler(self._rate)
        self._pending = np.zeros(0, np.float32)
        self._overflows = 0
        try:
            self._stream = sd.InputStream(
                device=info["index"],
                samplerate=self._rate,
                channels=1,
                dtype="float32",
                blocksize=self._block,
            )
            self._stream.start()
        except sd.PortAudioError as exc:
            raise AudioInputError(
                f"cannot open input device {self.name!r}: {exc}; is another program using it?"
            ) from None
        log.info("microphone open", extra=fields(device=self.name, rate=self._rate))

    @property
    def overruns(self) -> int:
        """Reads in which PortAudio reported dropped input."""
        return self._overflows

    def read(self) -> npt.NDArray[np.float32]:
        """Return the next 512-sample frame at 16 kHz."""
        while len(self._pending) < FRAME_SAMPLES:
            try:
                data, overflowed = self._stream.read(self._block)
            except self._sd.PortAudioError as exc:
                raise AudioInputError(f"input device {self.name!r} failed: {exc}") from None
            if overflowed:
                self._overflows += 1
            chunk = np.asarray(data[:, 0], dtype=np.float32)
            if self._resampler is not None:
                chunk = np.asarray(self._resampler.resample_chunk(chunk), dtype=np.float32)
            self._pending = np.concatenate((self._pending, chunk))
        frame, self._pending = self._pending[:FRAME_SAMPLES], self._pending[FRAME_SAMPLES:]
        return frame

    def close(self) -> None:
        """Stop capturing."""
        self._stream.close()


def _device_arg(device: str | None) -> int | str | None:
    if device is None:
        return None
    return int(device) if device.isdigit() else device


def _resampler(rate: int) -> Any:
    if rate == SAMPLE_RATE:
        return None
    import soxr

    return soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")

"""Capture and playback through the Rust module papo._native (cpal on ALSA), with papo's errors."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from papo import _native
from papo.audio import FRAME_SAMPLES
from papo.audio.recorder import RecordingSpeaker
from papo.errors import AudioInputError, NoAudioInputError, PapoError
from papo.system.logging import fields

log = logging.getLogger(__name__)

T = TypeVar("T")
_INT16_SCALE = np.float32(1.0 / 32768.0)


class AudioOutputError(PapoError):
    """The speaker cannot be opened or failed."""


_alsa_reported = False


def _log_alsa() -> None:
    """Hand what alsa-lib reported (kept by the native module, never printed) to the log: once at info, then debug."""
    global _alsa_reported
    messages, more = _native.alsa_messages()
    if not messages:
        return
    level = logging.DEBUG if _alsa_reported else logging.INFO
    _alsa_reported = True
    log.log(level, "alsa-lib reported problems", extra=fields(count=len(messages) + more, first=messages[0]))
    for message in messages[1:]:
        log.debug("alsa-lib", extra=fields(message=message))


def _opening(action: Callable[[], T], device: str | None, output: bool = False) -> T:
    wanted = f"device {device!r}" if device else "the default device"
    try:
        return action()
    except _native.NoAudioDeviceError as exc:
        hint = "set audio.output_device" if output else "plug in a microphone or set audio.input_device"
        if output:
            raise AudioOutputError(f"no audio output: {exc}; {hint} (see `papo audio devices`)") from None
        raise NoAudioInputError(f"no audio input: {exc}; {hint} (see `papo audio devices`)") from None
    except _native.DeviceBusyError as exc:
        error = AudioOutputError if output else AudioInputError
        raise error(f"{wanted} is busy: {exc}; close the other program using it") from None
    except _native.NativeError as exc:
        error = AudioOutputError if output else AudioInputError
        raise error(f"cannot open {wanted}: {exc}") from None
    finally:
        _log_alsa()


class NativeMicrophone:
    """A FrameSource on the Rust capture: 32 ms float32 frames at 16 kHz, overruns counted."""

    def __init__(self, device: str | None = None, ring_seconds: float = 2.0, read_timeout_s: float = 2.0) -> None:
        self._capture = _opening(lambda: _native.Capture(device, ring_seconds), device)
        self.name = self._capture.device_name
        self._timeout = read_timeout_s
        log.info("microphone open", extra=fields(device=self.name, backend="native"))

    def read(self) -> npt.NDArray[np.float32]:
        """Return the next 512-sample frame; AudioInputError if the device stops delivering."""
        try:
            frame = self._capture.read(FRAME_SAMPLES, self._timeout)
        except TimeoutError:
            raise AudioInputError(f"input device {self.name!r} delivered no audio for {self._timeout} s") from None
        except _native.NativeError as exc:
            raise AudioInputError(f"input device {self.name!r} failed: {exc}") from None
        return frame.astype(np.float32) * _INT16_SCALE

    @property
    def overruns(self) -> int:
        """Samples dropped because the reader fell behind."""
        return self._capture.stats()["overrun_samples"] if not self._capture.closed else 0

    def stats(self) -> _native.CaptureStatsDict:
        """The capture's counters."""
        return self._capture.stats()

    def close(self) -> None:
        """Stop capturing."""
        self._capture.close()


class NativeSpeaker:
    """Playback on the Rust output stream: `play` queues, `stop` silences at once (barge-in)."""

    def __init__(self, device: str | None = None) -> None:
        self._playback = _opening(lambda: _native.Playback(device), device, output=True)
        self.name = self._playback.device_name

    def play(self, samples: npt.NDArray[np.float32], rate: int) -> bool:
        """Queue mono audio (blocks while the queue is full); False if `stop` cut it short."""
        try:
            return self._playback.play(np.ascontiguousarray(samples, dtype=np.float32), rate)
        except _native.NativeError as exc:
            raise AudioOutputError(f"output device {self.name!r} failed: {exc}") from None

    def wait(self, timeout: float = 30.0) -> bool:
        """Wait until everything queued reached the device; AudioOutputError if the device failed meanwhile."""
        try:
            return self._playback.wait(timeout)
        except _native.NativeError as exc:
            raise AudioOutputError(f"output device {self.name!r} failed: {exc}") from None

    def stop(self) -> None:
        """Drop everything queued now."""
        self._playback.stop()

    def played_samples(self) -> int:
        """Samples handed to the device so far (at its rate)."""
        return self._playback.played_samples()

    @property
    def sample_rate(self) -> int:
        """The device's rate."""
        return self._playback.sample_rate

    def close(self) -> None:
        """Release the device."""
        self._playback.close()


def list_devices() -> list[_native.DeviceDict]:
    """Every audio device the system knows."""
    try:
        return _native.list_devices()
    except _native.NativeError as exc:
        raise NoAudioInputError(f"cannot list audio devices: {exc}") from None
    finally:
        _log_alsa()


def open_speaker(device: str | None) -> NativeSpeaker | RecordingSpeaker:
    """The speaker; without one, a stand-in that drops the audio (and a log line saying so)."""
    try:
        return NativeSpeaker(device)
    except AudioOutputError as exc:
        log.warning("no speaker; replies will not be heard", extra=fields(reason=str(exc)))
        return RecordingSpeaker(keep=False)

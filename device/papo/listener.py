"""Frames in, transcribed utterances out: endpointing plus STT on one worker thread, decoding early at pauses."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from papo.audio import FRAME_SAMPLES, SAMPLE_RATE
from papo.speech.endpoint import Endpointer, SpeechPaused, SpeechResumed, Utterance, UtteranceEnded
from papo.speech.stt import Transcript
from papo.voice_first import VoiceFirst


@dataclass
class PendingUtterance:
    """An utterance whose transcript is being (or was) computed on the STT worker."""

    utterance: Utterance
    future: Future[Transcript | None]
    eos_monotonic: float
    speculative: bool
    done_monotonic: float | None = field(default=None)

    def result(self, timeout: float | None = None) -> Transcript | None:
        """Wait for the transcript (None when the audio held no words)."""
        return self.future.result(timeout)

    @property
    def eos_to_text_ms(self) -> float | None:
        """From the moment the last speech frame arrived to the transcript being ready."""
        if self.done_monotonic is None:
            return None
        return max(0.0, (self.done_monotonic - self.eos_monotonic) * 1000)


@dataclass
class _Speculation:
    end_sample: int
    future: Future[Transcript | None]


class Transcriber(Protocol):
    """Speech to text for one utterance (faster-whisper in the product, a fake in the unit tests)."""

    def transcribe(self, samples: npt.NDArray[np.float32]) -> Transcript | None:
        """Return what was said in `samples` (16 kHz mono), or None when it held no words."""


class PauseObserver(Protocol):
    """Told when the person pauses (with the early transcript on its way) and when they go on talking."""

    def on_pause(self, transcript: Future[Transcript | None]) -> None:
        """The person paused; `transcript` is being computed."""

    def on_resume(self) -> None:
        """The person went on talking."""


class InputLevel:
    """The microphone's loudness over the last few frames (RMS, dBFS) for a live meter: a number, never the audio."""

    WINDOW_FRAMES = 8  # 256 ms of 32 ms frames per reading
    FLOOR_DBFS = -100.0

    def __init__(self) -> None:
        self.dbfs: float | None = None
        self._squares = 0.0
        self._samples = 0
        self._frames = 0

    def add(self, frame: npt.NDArray[np.float32]) -> None:
        """Count one frame (a dot product: no copy); every WINDOW_FRAMES frames, publish their RMS in dBFS."""
        self._squares += float(np.dot(frame, frame))
        self._samples += len(frame)
        self._frames += 1
        if self._frames >= self.WINDOW_FRAMES:
            mean = self._squares / max(self._samples, 1)
            self.dbfs = round(max(self.FLOOR_DBFS, 10 * math.log10(mean)) if mean > 0 else self.FLOOR_DBFS, 1)
            self._squares, self._samples, self._frames = 0.0, 0, 0

    def clear(self) -> None:
        """No input now: no reading."""
        self.dbfs = None
        self._squares, self._samples, self._frames = 0.0, 0, 0


class Listener:
    """Turns a stream of 32 ms frames into PendingUtterances, in order; `level` (if given) meters every frame.

    Each decode is tracked by `voice_first` (if given), which holds web requests while it runs.
    """

    def __init__(
        self,
        endpointer: Endpointer,
        transcriber: Transcriber,
        executor: ThreadPoolExecutor,
        speculative: bool = True,
        observer: PauseObserver | None = None,
        level: InputLevel | None = None,
        voice_first: VoiceFirst | None = None,
    ) -> None:
        self._observer = observer
        self._voice_first = voice_first
        self._level = level
        self._endpointer = endpointer
        self._transcriber = transcriber
        self._executor = executor
        self._speculative = speculative
        self._speculation: _Speculation | None = None
        self._fed_at: dict[int, float] = {}
        self._position = 0

    def feed(self, frame: npt.NDArray[np.float32]) -> list[PendingUtterance]:
        """Push one frame; return the utterances that ended with it."""
        self._position += len(frame)
        if self._level is not None:
            self._level.add(frame)
        self._fed_at[self._position] = time.monotonic()
        pending: list[PendingUtterance] = []
        for event in self._endpointer.push(frame):
            if isinstance(event, SpeechPaused) and self._speculative:
                future = self._submit(event.utterance)
                self._speculation = _Speculation(event.utterance.end_sample, future)
                if self._observer is not None:
                    self._observer.on_pause(future)
            elif isinstance(event, SpeechResumed):
                self._speculation = None
                if self._observer is not None:
                    self._observer.on_resume()
            elif isinstance(event, UtteranceEnded):
                pending.append(self._finish(event.utterance))
        if not self._endpointer.in_speech:
            self._fed_at = {self._position: self._fed_at[self._position]}
        return pending

    @property
    def speech_frames(self) -> int:
        """Frames of speech in the utterance being heard now (0 when nobody speaks)."""
        return self._endpointer.speech_frames

    def flush(self) -> list[PendingUtterance]:
        """End of stream: transcribe what is still open."""
        return [self._finish(e.utterance) for e in self._endpointer.flush() if isinstance(e, UtteranceEnded)]

    def _submit(self, utterance: Utterance) -> Future[Transcript | None]:
        future = self._executor.submit(self._transcriber.transcribe, utterance.samples)
        if self._voice_first is not None:
            self._voice_first.track(future)
        return future

    def _finish(self, utterance: Utterance) -> PendingUtterance:
        speculation, self._speculation = self._speculation, None
        reused = speculation is not None and speculation.end_sample == utterance.end_sample
        future = speculation.future if speculation is not None and reused else self._submit(utterance)
        eos = self._fed_at.get(utterance.last_speech_sample, time.monotonic())
        pending = PendingUtterance(utterance, future, eos, speculative=reused)

        def mark_done(_: Future[Transcript | None]) -> None:
            pending.done_monotonic = time.monotonic()

        future.add_done_callback(mark_done)
        return pending


def frames_of(samples: npt.NDArray[np.float32]) -> Iterator[npt.NDArray[np.float32]]:
    """Cut a recording into 32 ms frames; the last partial frame is padded with silence."""
    for start in range(0, len(samples), FRAME_SAMPLES):
        frame = samples[start : start + FRAME_SAMPLES]
        if len(frame) < FRAME_SAMPLES:
            frame = np.pad(frame, (0, FRAME_SAMPLES - len(frame)))
        yield frame


def hear_recording(
    listener: Listener, samples: npt.NDArray[np.float32], realtime: bool = False
) -> Iterator[PendingUtterance]:
    """Feed a recording through `listener` (at the pace a microphone would, if `realtime`); yield in order."""
    frame_s = FRAME_SAMPLES / SAMPLE_RATE
    started = time.monotonic()
    for index, frame in enumerate(frames_of(samples)):
        if realtime:
            time.sleep(max(0.0, started + (index + 1) * frame_s - time.monotonic()))
        yield from listener.feed(frame)
    yield from listener.flush()

"""Endpointing: turn per-frame speech probabilities into utterances, with hysteresis and pre-roll."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from papo.audio import FRAME_SAMPLES, SAMPLE_RATE
from papo.settings import VadSettings

FRAME_MS = FRAME_SAMPLES * 1000 // SAMPLE_RATE


class SpeechProbability(Protocol):
    """Anything that scores a frame for speech (Silero VAD in the product)."""

    def probability(self, frame: npt.NDArray[np.float32]) -> float:
        """Return the probability that `frame` holds speech."""
        ...


@dataclass(frozen=True)
class Utterance:
    """Speech found in the stream: its audio (pre-roll to last speech + tail) and where it lies."""

    samples: npt.NDArray[np.float32]
    start_sample: int
    end_sample: int
    last_speech_sample: int
    vad_ms: float

    @property
    def start_s(self) -> float:
        """Stream time the utterance audio starts at."""
        return self.start_sample / SAMPLE_RATE

    @property
    def end_s(self) -> float:
        """Stream time the last speech frame ends at."""
        return self.last_speech_sample / SAMPLE_RATE

    @property
    def duration_s(self) -> float:
        """Length of the utterance audio in seconds."""
        return len(self.samples) / SAMPLE_RATE


@dataclass(frozen=True)
class SpeechPaused:
    """Speech stopped briefly: the utterance so far, worth decoding early."""

    utterance: Utterance


@dataclass(frozen=True)
class SpeechResumed:
    """Speech came back before the end-of-speech silence ran out."""


@dataclass(frozen=True)
class UtteranceEnded:
    """The person stopped talking: the final utterance."""

    utterance: Utterance


EndpointEvent = SpeechPaused | SpeechResumed | UtteranceEnded


def _frames(ms: int) -> int:
    return max(1, -(-ms // FRAME_MS))


@dataclass
class _Open:
    start_sample: int
    frames: list[npt.NDArray[np.float32]]
    speech_frames: int = 0
    last_speech_frame: int = 0
    silence_frames: int = 0
    paused: bool = False
    vad_ms: float = 0.0


class Endpointer:
    """Feed 32 ms frames in order; get pause, resume and end-of-utterance events."""

    def __init__(self, vad: SpeechProbability, settings: VadSettings) -> None:
        self._vad = vad
        self._settings = settings
        pre_roll = _frames(settings.pre_roll_ms) if settings.pre_roll_ms else 0
        self._pre_roll: deque[npt.NDArray[np.float32]] = deque(maxlen=pre_roll)
        self._tail = _frames(settings.speculate_after_ms)
        self._end = max(_frames(settings.end_silence_ms), self._tail)
        self._min_speech = _frames(settings.min_speech_ms)
        self._max_frames = int(settings.max_utterance_s * 1000 // FRAME_MS)
        self._position = 0
        self._open: _Open | None = None

    @property
    def in_speech(self) -> bool:
        """Tell whether an utterance is open."""
        return self._open is not None

    @property
    def speech_frames(self) -> int:
        """Frames of speech in the open utterance (0 when none is open)."""
        return 0 if self._open is None else self._open.speech_frames

    def push(self, frame: npt.NDArray[np.float32]) -> list[EndpointEvent]:
        """Score one frame and return the events it causes (usually none)."""
        started = time.perf_counter()
        prob = self._vad.probability(frame)
        spent_ms = (time.perf_counter() - started) * 1000
        self._position += len(frame)
        current = self._open
        if current is None:
            if prob < self._settings.start_threshold:
                self._pre_roll.append(frame)
                return []
            start = self._position - len(frame) * (len(self._pre_roll) + 1)
            current = self._open = _Open(start_sample=start, frames=[*self._pre_roll, frame])
            self._pre_roll.clear()
        else:
            current.frames.append(frame)
        current.vad_ms += spent_ms
        return self._advance(current, prob)

    def flush(self) -> list[EndpointEvent]:
        """End of stream: close the open utterance, if it holds enough speech."""
        current, self._open = self._open, None
        if current is None or current.speech_frames < self._min_speech:
            return []
        return [UtteranceEnded(self._cut(current))]

    def _advance(self, current: _Open, prob: float) -> list[EndpointEvent]:
        events: list[EndpointEvent] = []
        index = len(current.frames) - 1
        if prob >= self._settings.start_threshold or (
            prob >= self._settings.end_threshold and current.silence_frames == 0
        ):
            current.speech_frames += 1
            current.last_speech_frame = index
            current.silence_frames = 0
            if current.paused:
                current.paused = False
                events.append(SpeechResumed())
        else:
            current.silence_frames += 1
        if current.silence_frames == self._tail and current.speech_frames >= self._min_speech:
            current.paused = True
            events.append(SpeechPaused(self._cut(current)))
        if current.silence_frames >= self._end or len(current.frames) >= self._max_frames:
            self._open = None
            self._pre_roll.extend(current.frames[current.last_speech_frame + 1 :])
            if current.speech_frames >= self._min_speech:
                events.append(UtteranceEnded(self._cut(current)))
        return events

    def _cut(self, current: _Open) -> Utterance:
        keep = min(len(current.frames), current.last_speech_frame + 1 + self._tail)
        samples = np.concatenate(current.frames[:keep])
        last_speech = current.start_sample + (current.last_speech_frame + 1) * FRAME_SAMPLES
        return Utterance(
            samples=samples,
            start_sample=current.start_sample,
            end_sample=current.start_sample + len(samples),
            last_speech_sample=last_speech,
            vad_ms=current.vad_ms,
        )

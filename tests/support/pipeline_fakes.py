"""Fakes to run the real VoiceService without models or audio: blocks of numbered frames, each block one sentence.

Block i is SPEECH_FRAMES frames of speech then SILENT_FRAMES of silence; the block VAD hears speech in the first
part of each block and the block transcriber says sentence i for the frames of block i (frame n holds the value n,
as in support.fakes). `new_turn` is a heard utterance as the pipeline makes it, for storing without the pipeline.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from papo.audio import FRAME_SAMPLES
from papo.engine import SpeechEngine
from papo.speech.endpoint import Endpointer
from papo.speech.stt import Transcript
from papo.store import NewTurn
from support.fakes import SILENCE, SPEECH

SPEECH_FRAMES, SILENT_FRAMES = 20, 20  # per sentence: 0.64 s of speech, then enough silence to end it
BLOCK = SPEECH_FRAMES + SILENT_FRAMES


def new_turn(text: str) -> NewTurn:
    """A heard utterance as the pipeline makes it."""
    return NewTurn(
        text=text, language="pt", audio_start_s=0.0, audio_end_s=1.5, audio_duration_s=1.5,
        stt_model="whisper-base", stt_window="short", vad_model="silero-vad-v6",
    )  # fmt: skip


class BlockTranscriber:
    """A Transcriber that says sentence i for the frames of block i (frame n holds the value n)."""

    model_name = "whisper-base"

    def __init__(self, sentences: Sequence[str]) -> None:
        self._sentences = list(sentences)

    def transcribe(self, samples: npt.NDArray[np.float32]) -> Transcript | None:
        block = int(samples.max()) // BLOCK
        return Transcript(self._sentences[block], "pt", 0.01, -0.2, 1.2, "short", 1.0)


class BlockVad:
    """Speech in the first SPEECH_FRAMES frames of every block, silence in the rest and after the end (-1)."""

    def probability(self, frame: npt.NDArray[np.float32]) -> float:
        number = int(frame[0])
        return SPEECH if number >= 0 and number % BLOCK < SPEECH_FRAMES else SILENCE


@dataclass(frozen=True)
class FakeEngine(SpeechEngine):
    """The speech engine with the block VAD and the block transcriber: no model is loaded."""

    def endpointer(self) -> Endpointer:
        return Endpointer(BlockVad(), self.settings.vad)


class BlockSource:
    """A FrameSource playing one block of numbered frames per sentence, then silence, stopping the service."""

    name = "fake microphone"
    overruns = 0

    def __init__(self, sentences: int, stop: Callable[[], None]) -> None:
        self._frames = sentences * BLOCK
        self._stop = stop
        self._next = 0

    def read(self) -> npt.NDArray[np.float32]:
        index, self._next = self._next, self._next + 1
        if index >= self._frames:
            self._stop()
            return np.full(FRAME_SAMPLES, -1.0, np.float32)
        return np.full(FRAME_SAMPLES, index, np.float32)

    def close(self) -> None:
        return

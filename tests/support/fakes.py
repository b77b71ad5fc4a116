"""Fakes for the speech seams: a scripted VAD, a transcriber that says which frames it heard, a pause recorder.

Frames are numbered: frame i holds the value i in every sample, so a test can tell exactly which frames of
the stream an utterance holds (`frame_numbers`).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future

import numpy as np
import numpy.typing as npt

from papo.audio import FRAME_SAMPLES
from papo.speech.stt import Transcript
from papo_sync.protocol import OutboxItem

SILENCE, SPEECH, MAYBE = 0.05, 0.9, 0.4  # below the end threshold, above the start one, between the two (defaults)


def script(*runs: tuple[float, int]) -> list[float]:
    """Per-frame speech probabilities from (probability, frame count) runs."""
    return [probability for probability, count in runs for _ in range(count)]


def numbered_frames(count: int, first: int = 0) -> list[npt.NDArray[np.float32]]:
    """`count` frames numbered from `first` (frame i holds i in every sample)."""
    return [np.full(FRAME_SAMPLES, index, np.float32) for index in range(first, first + count)]


def frame_numbers(samples: npt.NDArray[np.float32]) -> list[int]:
    """The numbers of the frames `samples` is made of."""
    assert len(samples) % FRAME_SAMPLES == 0, len(samples)
    return [int(samples[start]) for start in range(0, len(samples), FRAME_SAMPLES)]


class ScriptedVad:
    """A SpeechProbability that answers the scripted probability for each frame in turn, then `after`."""

    def __init__(self, probabilities: Sequence[float], after: float = SILENCE) -> None:
        self._script = list(probabilities)
        self._after = after
        self.scored = 0

    def probability(self, frame: npt.NDArray[np.float32]) -> float:
        index, self.scored = self.scored, self.scored + 1
        return self._script[index] if index < len(self._script) else self._after


class FrameTranscriber:
    """A Transcriber whose text names the frames it was given; `hold` keeps it from answering until released."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []
        self.released = threading.Event()
        self.released.set()

    def hold(self) -> None:
        """Make the next decodes wait for `release()`."""
        self.released.clear()

    def release(self) -> None:
        """Let held decodes finish."""
        self.released.set()

    def transcribe(self, samples: npt.NDArray[np.float32]) -> Transcript | None:
        frames = frame_numbers(samples)
        self.calls.append(frames)
        assert self.released.wait(10), "the test never released the transcriber"
        return Transcript(f"frames {frames[0]}-{frames[-1]}", "pt", 0.01, -0.2, 1.2, "short", 1.0)


class PauseRecorder:
    """A PauseObserver that keeps what it is told, in order."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.futures: list[Future[Transcript | None]] = []

    def on_pause(self, transcript: Future[Transcript | None]) -> None:
        self.events.append("pause")
        self.futures.append(transcript)

    def on_resume(self) -> None:
        self.events.append("resume")


class EmptyOutbox:
    """An OutboxSource with nothing to send."""

    def pending(self, limit: int, exclude: set[str]) -> list[OutboxItem]:
        return []

    def delete(self, msg_ids: list[str]) -> int:
        return 0

    def depth(self) -> int:
        return 0

    def confirm_erasures(self, msg_ids: list[str]) -> int:
        return 0


class NullSpeaker:
    """A Speaker that plays nothing, at once."""

    name = "null"

    def play(self, samples: npt.NDArray[np.float32], rate: int) -> bool:
        return True

    def wait(self, timeout: float = 30.0) -> bool:
        return True

    def stop(self) -> None:
        return

    def close(self) -> None:
        return


class JournalVoice:
    """A Voice writing what it says into the journal; a little silence as audio."""

    name = "journal-voice"
    rate = 16_000

    def __init__(self, journal: list[str]) -> None:
        self._journal = journal

    def synthesize(self, text: str) -> npt.NDArray[np.float32]:
        self._journal.append(f"said {text}")
        return np.zeros(160, np.float32)

"""The companion's voice on the speaker: one utterance at a time, stopped at once when the person barges in."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from papo.conversation.sentences import sentences
from papo.errors import PapoError
from papo.speech.tts import CachedVoice, Speaker, Speech
from papo.system.logging import fields

log = logging.getLogger(__name__)

REOPEN_WAIT_S = 5.0  # how long `say` waits for the daemon to reopen a speaker that failed (it retries at 1 s)


@dataclass
class Utterance:
    """How much audio one spoken utterance has handed to the speaker so far."""

    seconds: float = 0.0


class SpeechOutput:
    """Voices sentences and plays them; `interrupt()` (barge-in) stops what is being said."""

    def __init__(self, voice: CachedVoice, speaker: Speaker) -> None:
        self.voice = voice
        self._speaker = speaker
        self._lock = threading.Lock()
        self._speaking = threading.Event()
        self._interrupted = threading.Event()
        self._failed = False  # the speaker broke while playing (unplugged): no real output until another is used
        self._replaced = threading.Event()  # set when another speaker is used (the daemon reopens one)
        self.gain = 1.0  # loudness, 0..1 (`audio.volume`, applied live)

    @property
    def speaking(self) -> bool:
        """Whether something is being said."""
        return self._speaking.is_set()

    @property
    def has_speaker(self) -> bool:
        """Whether a real output plays what is said (not the stand-in that drops it, nor one that broke)."""
        if self._failed:
            return False
        present = getattr(self._speaker, "present", None)
        return bool(present) if present is not None else getattr(self._speaker, "name", "") != "no speaker"

    @property
    def reopening(self) -> bool:
        """Whether the speaker broke and the daemon is opening another (`say` and `say_speech` wait for it)."""
        return self._failed

    def use(self, speaker: Speaker) -> Speaker:
        """Play on `speaker` from now on (one that appeared), switched between utterances; the one it replaced."""
        with self._lock:
            replaced, self._speaker, self._failed = self._speaker, speaker, False
        self._replaced.set()
        log.info("speaking on a new output", extra=fields(real=self.has_speaker))
        return replaced

    @property
    def interrupted(self) -> bool:
        """Whether the utterance in progress (or the last one) was cut by the person."""
        return self._interrupted.is_set()

    @contextmanager
    def utterance(self) -> Iterator[Utterance]:
        """Say something (one caller at a time); at the end, wait until it has been played unless interrupted."""
        with self._lock:
            self._interrupted.clear()
            self._speaking.set()
            said = Utterance()
            try:
                yield said
                if not self._interrupted.is_set():
                    self._wait_played(said)
            finally:
                self._speaking.clear()

    def _wait_played(self, said: Utterance) -> None:
        """Wait until what was handed to the speaker has been played; a speaker failing meanwhile is marked broken."""
        try:
            self._speaker.wait(timeout=max(60.0, said.seconds * 2))
        except PapoError as exc:  # the device went away: say so on /health, and let the daemon reopen one
            self._broke(exc)
            raise

    def play(self, said: Utterance, speech: Speech) -> bool:
        """Hand voiced speech to the speaker; False (and nothing played) once interrupted."""
        if self._interrupted.is_set():
            return False
        try:
            samples = speech.samples if self.gain == 1.0 else speech.samples * np.float32(self.gain)
            self._speaker.play(samples, speech.rate)
        except PapoError as exc:  # the device went away: say so on /health, and let the daemon reopen one
            self._broke(exc)
            raise
        said.seconds += speech.seconds
        return True

    def _broke(self, exc: PapoError) -> None:
        """The device went away: say so on /health, and let the daemon reopen one (`use`)."""
        self._replaced.clear()
        self._failed = True
        log.warning("speaker failed", extra=fields(reason=str(exc)))

    def say(self, text: str) -> float:
        """Say `text` and wait until it was played; seconds of audio.

        If the speaker fails on the way, it is said once more on the speaker the daemon reopens (within
        REOPEN_WAIT_S); without one, the failure is raised.
        """
        return self._retried(lambda said: self._say_sentences(said, text)).seconds

    def say_speech(self, speech: Speech) -> bool:
        """Play speech already voiced and wait until it was played (retried like `say`); False if interrupted."""
        said = self._retried(lambda said: self.play(said, speech))
        return said.seconds > 0 and not self._interrupted.is_set()

    def _retried(self, speak: Callable[[Utterance], object]) -> Utterance:
        try:
            return self._utter(speak)
        except PapoError:
            if not self._replaced.wait(REOPEN_WAIT_S):
                raise
            return self._utter(speak)

    def _utter(self, speak: Callable[[Utterance], object]) -> Utterance:
        with self.utterance() as said:
            speak(said)
        return said

    def _say_sentences(self, said: Utterance, text: str) -> None:
        for sentence in sentences([text]):
            if not self.play(said, self.voice.speak(sentence)[0]):
                break

    def interrupt(self) -> bool:
        """Barge-in: stop speaking now; True if something was being said."""
        if not self._speaking.is_set():
            return False
        self._interrupted.set()
        self._speaker.stop()
        log.info("reply interrupted by the person")
        return True

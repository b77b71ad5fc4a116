"""A speaker that fails while something is said: it is said again on the speaker the daemon reopens."""

from __future__ import annotations

import threading

import numpy as np
import numpy.typing as npt
import pytest

from papo.audio.recorder import RecordingSpeaker
from papo.cache import AudioCache
from papo.conversation import speech_output
from papo.conversation.speech_output import SpeechOutput
from papo.errors import PapoError
from papo.speech.tts import CachedVoice, Speech
from support.fakes import JournalVoice
from support.wait import wait_until


class BrokenSpeaker(RecordingSpeaker):
    """A sound device that fails on its first play (as an ALSA stream that died while idle)."""

    def play(self, samples: npt.NDArray[np.float32], rate: int) -> bool:
        raise PapoError("output device failed: I/O error")


def _output() -> SpeechOutput:
    return SpeechOutput(CachedVoice(JournalVoice([]), AudioCache(None, "tts")), BrokenSpeaker())


def test_what_failed_is_said_again_on_the_reopened_speaker() -> None:
    output, reopened = _output(), RecordingSpeaker()

    def keeper() -> None:  # the daemon's speaker keeper: a speaker that broke is replaced
        wait_until(lambda: not output.has_speaker, 5, "the speaker to fail")
        output.use(reopened)

    thread = threading.Thread(target=keeper)
    thread.start()
    seconds = output.say("Um, dois, três.")
    thread.join()
    assert seconds > 0 and len(reopened.take()) > 0 and output.has_speaker


def test_without_a_new_speaker_the_failure_is_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(speech_output, "REOPEN_WAIT_S", 0.05)
    output = _output()
    with pytest.raises(PapoError, match="I/O error"):
        output.say("Um.")
    assert not output.has_speaker


def test_a_voiced_sample_waits_for_the_speaker_being_reopened(monkeypatch: pytest.MonkeyPatch) -> None:
    output, reopened = _output(), RecordingSpeaker()
    with monkeypatch.context() as patch:
        patch.setattr(speech_output, "REOPEN_WAIT_S", 0.05)
        with pytest.raises(PapoError):  # the speaker broke earlier (a reply was lost), none reopened in time
            output.say("Um.")
    assert output.reopening and not output.has_speaker
    keeper = threading.Thread(target=lambda: output.use(reopened))  # the daemon's next attempt succeeds
    keeper.start()
    assert output.say_speech(Speech(np.full(1600, 0.5, dtype=np.float32), 16000))  # the page's voice test
    keeper.join()
    assert len(reopened.take()) > 0 and not output.reopening  # a tenth of a second, at the speaker's rate

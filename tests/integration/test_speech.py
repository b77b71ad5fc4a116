"""Real Silero VAD and Whisper base on generated pt-BR speech."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pytest

from conftest import SENTENCES
from papo.errors import ModelError
from papo.listener import Listener, PendingUtterance, hear_recording
from papo.settings import load_settings
from papo.speech.stt import Transcript
from papo.speech.voicegen import with_silence
from papo.speech.wordcheck import content_word_recall
from support.fakes import PauseRecorder
from support.speech import SpeechMaker

if TYPE_CHECKING:
    from papo.engine import SpeechEngine
    from papo.speech.stt import WhisperTranscriber

pytestmark = pytest.mark.models  # every test here runs the real VAD and Whisper


class _Counting:
    """The real transcriber, noting the length of every utterance it is asked to decode."""

    def __init__(self, inner: WhisperTranscriber) -> None:
        self.inner = inner
        self.lengths: list[int] = []

    def transcribe(self, samples: npt.NDArray[np.float32]) -> Transcript | None:
        self.lengths.append(len(samples))
        return self.inner.transcribe(samples)


def _hear(
    engine: SpeechEngine,
    samples: np.ndarray,
    speculative: bool = False,
    transcriber: _Counting | None = None,
    observer: PauseRecorder | None = None,
) -> list[PendingUtterance]:
    with ThreadPoolExecutor(max_workers=1) as executor:
        stt = transcriber or engine.transcriber
        listener = Listener(engine.endpointer(), stt, executor, speculative=speculative, observer=observer)
        pendings = list(hear_recording(listener, samples))
        for pending in pendings:
            pending.result()
        return pendings


def test_vad_finds_each_sentence_where_it_is(engine: SpeechEngine, speech: SpeechMaker) -> None:
    parts = [speech.say(s) for s in SENTENCES[:3]]
    gap, lead = 1.2, 0.5
    pendings = _hear(engine, with_silence(parts, gap_s=gap, lead_s=lead))
    assert len(pendings) == 3
    expected_start = lead
    for pending, part in zip(pendings, parts, strict=True):
        assert abs(pending.utterance.start_s - expected_start) < 0.35
        assert abs(pending.utterance.end_s - (expected_start + len(part) / 16000)) < 0.35
        expected_start += len(part) / 16000 + gap


def test_short_pause_inside_a_sentence_does_not_end_it(engine: SpeechEngine, speech: SpeechMaker) -> None:
    first, second = speech.say("Eu gosto muito de café"), speech.say("principalmente de manhã cedo.")
    pendings = _hear(engine, with_silence([first, second], gap_s=0.25))
    assert len(pendings) == 1


@pytest.mark.parametrize("sentence", SENTENCES)
def test_transcribes_pt_br_sentences(engine: SpeechEngine, speech: SpeechMaker, sentence: str) -> None:
    (pending,) = _hear(engine, with_silence([speech.say(sentence)], gap_s=0))
    transcript = pending.result()
    assert transcript is not None
    assert transcript.language == "pt"
    assert content_word_recall(sentence, transcript.text) >= 0.8, transcript.text


def test_silence_and_hiss_give_no_text(engine: SpeechEngine) -> None:
    rng = np.random.default_rng(7)
    silence = np.zeros(16000 * 5, np.float32)
    hiss = (rng.standard_normal(16000 * 5) * 0.003).astype(np.float32)
    assert _hear(engine, silence) == []
    assert _hear(engine, hiss) == []
    assert engine.transcriber.transcribe(silence[: 16000 * 2]) is None
    assert engine.transcriber.transcribe(hiss[: 16000 * 2]) is None


def test_decoding_at_the_pause_is_reused_at_the_end(engine: SpeechEngine, speech: SpeechMaker) -> None:
    audio = with_silence([speech.say(SENTENCES[1])], gap_s=0)
    plain_stt, early_stt, pauses = _Counting(engine.transcriber), _Counting(engine.transcriber), PauseRecorder()
    (plain,) = _hear(engine, audio, speculative=False, transcriber=plain_stt)
    (early,) = _hear(engine, audio, speculative=True, transcriber=early_stt, observer=pauses)
    assert not plain.speculative and plain_stt.lengths == [len(plain.utterance.samples)]
    # the transcript is the decode started at the last pause, and nothing was decoded again at the end
    assert early.speculative and early.future is pauses.futures[-1]
    assert len(early_stt.lengths) == len(pauses.futures) and early_stt.lengths[-1] == len(early.utterance.samples)
    assert early.utterance.end_sample == plain.utterance.end_sample
    plain_text, early_text = plain.result(), early.result()
    assert plain_text is not None and early_text is not None
    assert early_text.text == plain_text.text


def test_speech_resuming_discards_the_early_decode(engine: SpeechEngine, speech: SpeechMaker) -> None:
    first, second = speech.say("Hoje eu acordei cedo"), speech.say("e fui caminhar na praça.")
    stt, pauses = _Counting(engine.transcriber), PauseRecorder()
    (pending,) = _hear(engine, with_silence([first, second], gap_s=0.3), speculative=True, transcriber=stt,
                       observer=pauses)  # fmt: skip
    assert pauses.events[:2] == ["pause", "resume"]  # decoding started in the gap, then the person went on
    # that early decode (of the first half) was dropped: the transcript is a decode of the whole utterance
    assert pending.future is not pauses.futures[0]
    assert stt.lengths[0] < stt.lengths[-1] == len(pending.utterance.samples)
    transcript = pending.result()
    assert transcript is not None
    assert content_word_recall("acordei cedo caminhar praça", transcript.text) >= 0.75, transcript.text


def test_tiny_en_transcribes_english(english_speech: SpeechMaker, state_dir: Path, shared_models: Path) -> None:
    from papo.engine import load_engine

    settings = load_settings(stt={"model": "whisper-tiny-en", "language": "en"})
    english = load_engine(settings)
    sentence = "Please remind me to call my daughter tomorrow morning."
    (pending,) = _hear(english, with_silence([english_speech.say(sentence)], gap_s=0))
    assert content_word_recall(sentence, pending.result().text) >= 0.8


def test_tiny_en_refuses_portuguese(state_dir: Path) -> None:
    from papo.engine import load_engine

    with pytest.raises(ModelError, match=r'English only; set stt\.language = "en"'):
        load_engine(load_settings(stt={"model": "whisper-tiny-en", "language": "pt"}))

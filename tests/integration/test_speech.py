"""Real Silero VAD and Whisper base on generated pt-BR speech."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from conftest import SENTENCES
from papo.engine import SpeechEngine, load_engine
from papo.errors import ModelError
from papo.listener import Listener, PendingUtterance, hear_recording
from papo.settings import load_settings
from papo.speech.voicegen import with_silence
from papo.speech.wordcheck import content_word_recall
from support.speech import SpeechMaker

pytestmark = pytest.mark.slow


def _hear(engine: SpeechEngine, samples: np.ndarray, speculative: bool = False) -> list[PendingUtterance]:
    with ThreadPoolExecutor(max_workers=1) as executor:
        listener = Listener(engine.endpointer(), engine.transcriber, executor, speculative=speculative)
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
    (plain,) = _hear(engine, audio, speculative=False)
    (early,) = _hear(engine, audio, speculative=True)
    assert early.speculative and not plain.speculative
    assert early.result() == plain.result() or early.result().text == plain.result().text


def test_speech_resuming_discards_the_early_decode(engine: SpeechEngine, speech: SpeechMaker) -> None:
    first, second = speech.say("Hoje eu acordei cedo"), speech.say("e fui caminhar na praça.")
    (pending,) = _hear(engine, with_silence([first, second], gap_s=0.3), speculative=True)
    text = pending.result().text
    assert content_word_recall("acordei cedo caminhar praça", text) >= 0.75, text


def test_tiny_en_transcribes_english(english_speech: SpeechMaker, state_dir: Path, shared_models: Path) -> None:
    settings = load_settings(stt={"model": "whisper-tiny-en", "language": "en"})
    english = load_engine(settings)
    sentence = "Please remind me to call my daughter tomorrow morning."
    (pending,) = _hear(english, with_silence([english_speech.say(sentence)], gap_s=0))
    assert content_word_recall(sentence, pending.result().text) >= 0.8


def test_tiny_en_refuses_portuguese(state_dir: Path) -> None:
    with pytest.raises(ModelError, match=r'English only; set stt\.language = "en"'):
        load_engine(load_settings(stt={"model": "whisper-tiny-en", "language": "pt"}))

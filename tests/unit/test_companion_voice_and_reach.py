"""«Fala mais devagar / mais alto…» applied, bounded and confirmed; requests out of reach answered honestly by rule."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from papo.cache import AudioCache
from papo.conversation.companion import Companion
from papo.conversation.crew import CrewRuntime
from papo.conversation.everyday import Intent, recognise
from papo.conversation.speech_output import SpeechOutput
from papo.conversation.turn import HeardTurn
from papo.conversation.voice_controls import RATE_MAX, RATE_MIN, VOLUME_MIN, VoiceChange, VoiceControls
from papo.settings import Settings, load_settings
from papo.speech.tts import CachedVoice
from papo.store import Store
from support.fakes import JournalVoice, NullSpeaker


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("Fala mais devagar.", Intent.SLOWER),
        ("Papo, fala mais devagar, por favor.", Intent.SLOWER),
        ("Você pode falar mais rápido?", Intent.FASTER),
        ("Fala mais alto que eu não escuto.", Intent.LOUDER),
        ("Aumenta o volume.", Intent.LOUDER),
        ("Fala um pouco mais baixo.", Intent.SOFTER),
        ("Abaixa o volume, por favor.", Intent.SOFTER),
        ("Eu gosto de andar devagar na praça.", None),
        ("E que horas são agora?", Intent.TIME),
        ("O rádio estava alto demais na casa da vizinha.", None),
    ],
)
def test_voice_requests_are_recognised(text: str, intent: Intent | None) -> None:
    assert recognise(text) == intent


@pytest.fixture
def companion(state_dir: Any) -> Iterator[Companion]:
    settings = load_settings(conversation={"crew": False, "review_after_idle_s": 0})
    store = Store(settings.store_path, settings.device_id)
    output = SpeechOutput(CachedVoice(JournalVoice([]), AudioCache(None, "tts")), NullSpeaker())
    crew = CrewRuntime("http://127.0.0.1:9/v1", "none", enabled=False)
    made = Companion(settings, store, output, lambda: None, lambda: None, crew)
    yield made
    made.close()
    store.close()


def _ask(companion: Companion, text: str) -> str:
    return companion.respond(HeardTurn(text, "test")).reply or ""


def test_softer_and_louder_change_the_volume_at_once_within_bounds(companion: Companion) -> None:
    assert companion.output.gain == 1.0
    assert "Já estou no volume mais alto" in _ask(companion, "Fala mais alto.")  # at the top: said honestly
    assert _ask(companion, "Fala mais baixo.") == "Certo, vou falar mais baixo. Assim está bom?"
    assert companion.output.gain == pytest.approx(0.8)
    assert companion.last_intent == "softer"
    for _ in range(10):
        _ask(companion, "Fala mais baixo.")
    assert companion.output.gain == pytest.approx(VOLUME_MIN / 100)
    assert "volume mais baixo" in _ask(companion, "Fala mais baixo.")
    assert "mais alto" in _ask(companion, "Fala mais alto.") and companion.output.gain > VOLUME_MIN / 100


def test_slower_and_faster_change_the_espeak_voice_within_bounds(state_dir: Any) -> None:
    settings = load_settings(tts={"engine": "espeak", "rate_wpm": 160})
    output = SpeechOutput(CachedVoice(JournalVoice([]), AudioCache(None, "tts")), NullSpeaker())
    controls = VoiceControls(output, settings, "pt")
    assert controls.change(VoiceChange.SLOWER).startswith("Certo, vou falar mais devagar")
    assert controls.rate_wpm == 140 and output.voice.voice.name == "espeak:pt-br:140"
    while controls.rate_wpm > RATE_MIN:
        controls.change(VoiceChange.SLOWER)
    assert controls.change(VoiceChange.SLOWER) == "Já estou falando o mais devagar que consigo."
    while controls.rate_wpm < RATE_MAX:
        controls.change(VoiceChange.FASTER)
    assert controls.change(VoiceChange.FASTER) == "Já estou falando o mais rápido que consigo."
    assert output.voice.voice.name == f"espeak:pt-br:{RATE_MAX}"
    controls.use_rate(180)  # a change made on the page (a live key)
    assert controls.rate_wpm == 180 and output.voice.voice.name == "espeak:pt-br:180"


def test_a_neural_voice_says_it_cannot_change_its_speed(state_dir: Any) -> None:
    settings = load_settings(tts={"engine": "kokoro"})
    output = SpeechOutput(CachedVoice(JournalVoice([]), AudioCache(None, "tts")), NullSpeaker())
    voice_before = output.voice.voice
    controls = VoiceControls(output, settings, "pt")
    answer = controls.change(VoiceChange.FASTER)
    assert "não consigo mudar a velocidade" in answer and output.voice.voice is voice_before
    controls.use_rate(200)  # the page's speaking rate is espeak-ng's: nothing to change here
    assert output.voice.voice is voice_before


def test_a_request_out_of_reach_is_answered_honestly_without_a_model(companion: Companion) -> None:
    reply = _ask(companion, "Papo, vai chover amanhã?")
    assert "não consigo" in reply.lower() and companion.last_intent == "weather"


def test_no_answer_is_prepared_by_the_model_for_what_a_rule_answers(companion: Companion) -> None:
    for text in ("Papo, que horas são?", "Papo, fala mais devagar.", "Papo, liga para a minha filha."):
        assert companion._anticipated_messages(text) is None, text


def test_a_voice_change_asked_aloud_is_kept_for_the_next_start_and_in_the_change_log(state_dir: Path) -> None:
    from papo.web.panel import changelog, editing

    settings = load_settings()  # espeak-ng at 160 words per minute, volume 100 %
    applied: list[Settings] = []
    output = SpeechOutput(CachedVoice(JournalVoice([]), AudioCache(None, "tts")), NullSpeaker())
    controls = VoiceControls(output, settings, "pt", keep=partial(editing.keep_spoken, settings, applied.append))
    controls.change(VoiceChange.SOFTER)
    controls.change(VoiceChange.SLOWER)
    restarted = load_settings()  # what the next start reads
    assert (restarted.audio.volume, restarted.tts.rate_wpm) == (80, 140)
    assert [(e.who, e.key, e.old, e.new) for e in changelog.recent(state_dir)] == [
        ("voz", "tts.rate_wpm", 160, 140), ("voz", "audio.volume", 100, 80),
    ]  # fmt: skip
    assert [(s.audio.volume, s.tts.rate_wpm) for s in applied] == [(80, 160), (80, 140)]  # the daemon's live path


def test_a_voice_change_that_cannot_be_kept_still_holds_until_the_restart(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from papo.web.panel import editing

    monkeypatch.setenv("PAPO_AUDIO__VOLUME", "60")  # the service's environment holds the volume: the page cannot
    settings = load_settings()
    output = SpeechOutput(CachedVoice(JournalVoice([]), AudioCache(None, "tts")), NullSpeaker())
    output.gain = 0.6
    controls = VoiceControls(output, settings, "pt", keep=partial(editing.keep_spoken, settings, lambda _: None))
    assert controls.change(VoiceChange.LOUDER).startswith("Certo, vou falar mais alto")
    assert output.gain == pytest.approx(0.8)
    (warning,) = [r for r in caplog.records if r.getMessage() == "voice change not kept for the next start"]
    assert "variável de ambiente" in getattr(warning, "reason", "")
    assert load_settings().audio.volume == 60

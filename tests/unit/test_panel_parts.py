"""The parts behind the panel pages (issue 13): input level, activity, live settings, the page's settings file."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from papo.conversation.turn import decide
from papo.fleet import apply_desired
from papo.listener import InputLevel
from papo.service import Activity, PipelineState, VoiceService
from papo.settings import (
    Settings,
    fleet_settings_path,
    load_settings,
    local_keys,
    local_settings_path,
    read_local_settings,
    write_local_settings,
)
from papo.store import NewTurn, Store
from papo.web.health import judge
from papo.web.panel import changelog, editing
from papo.web.panel.editing import SettingsRefusedError
from papo.web.panel.feed import StatusFeed
from papo.web.panel.status import problem, read_status
from papo_sync.protocol import DesiredState


@pytest.fixture
def voice(state_dir: Path) -> Iterator[VoiceService]:
    with Store(state_dir / "papo.sqlite3", "dev-1") as store:
        yield VoiceService(load_settings(), store)


def _frames(amplitude: float, count: int) -> list[np.ndarray]:
    t = np.arange(512, dtype=np.float32) / 16_000
    return [(amplitude * np.sin(2 * np.pi * 440 * t)).astype(np.float32)] * count


def test_the_input_level_is_the_rms_of_the_last_frames_in_dbfs() -> None:
    level = InputLevel()
    for frame in _frames(0.5, InputLevel.WINDOW_FRAMES - 1):
        level.add(frame)
    assert level.dbfs is None  # not a whole window yet
    level.add(_frames(0.5, 1)[0])
    assert level.dbfs == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.2)  # a sine's RMS: -9 dBFS
    for frame in _frames(0.0, InputLevel.WINDOW_FRAMES):
        level.add(frame)
    assert level.dbfs == InputLevel.FLOOR_DBFS
    level.clear()
    assert level.dbfs is None


def test_activity_follows_the_pipeline_and_the_companion(voice: VoiceService) -> None:
    seen = [voice.activity]
    voice.status.state = PipelineState.NO_AUDIO_INPUT
    seen.append(voice.activity)
    voice.status.state = PipelineState.LISTENING
    seen.append(voice.activity)
    voice._busy = 1  # an utterance between its end and its answer
    seen.append(voice.activity)
    voice.conversation = SimpleNamespace(companion=SimpleNamespace(speaking=True))  # type: ignore[assignment]
    seen.append(voice.activity)
    assert seen == [Activity.STARTING, Activity.NO_MICROPHONE, Activity.LISTENING, Activity.THINKING, Activity.SPEAKING]


def test_live_settings_reach_the_pipeline(voice: VoiceService, state_dir: Path) -> None:
    changed = Settings(state_dir=state_dir, privacy={"history": False}, audio={"volume": 40})
    voice.apply_settings(changed)
    assert voice.settings.privacy.history is False and voice.settings.audio.volume == 40


def test_history_off_keeps_nothing_said_even_to_papo(state_dir: Path) -> None:
    new = NewTurn(
        text="papo, bom dia", language="pt", audio_start_s=0.0, audio_end_s=1.0, audio_duration_s=1.0,
        stt_model="whisper-base", stt_window="short", vad_model="silero-vad-v6",
    )  # fmt: skip
    on = decide(new, "mic", 1.0, load_settings(), None)
    off = decide(new, "mic", 1.0, Settings(state_dir=state_dir, privacy={"history": False}), None)
    assert on.addressed and on.kept
    assert off.addressed and not off.kept


def test_the_page_file_wins_over_the_toml_file_and_the_fleet(
    state_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "papo.toml"
    config.write_text("[tts]\nrate_wpm = 130\nvoice = 'pt-br'\n")
    monkeypatch.setenv("PAPO_CONFIG", str(config))
    fleet_settings_path(state_dir).write_text(json.dumps({"tts": {"rate_wpm": 120, "engine": "espeak"}}))
    write_local_settings(state_dir, {"tts": {"rate_wpm": 200}})
    settings = load_settings()
    assert (settings.tts.rate_wpm, settings.tts.voice) == (200, "pt-br")
    assert local_settings_path(state_dir).stat().st_mode & 0o777 == 0o600
    assert {"tts.rate_wpm", "tts.voice"} <= local_keys(state_dir)
    report = apply_desired(DesiredState(version=1, settings={"tts": {"rate_wpm": 110}}), state_dir)
    assert report.accepted and "tts.rate_wpm" in report.held_locally


def test_an_unreadable_page_file_is_set_aside(state_dir: Path) -> None:
    local_settings_path(state_dir).write_text("{not json")
    assert read_local_settings(state_dir) == {}
    assert not local_settings_path(state_dir).exists()
    assert list(state_dir.glob("local-settings.json.set-aside-*"))


def test_a_change_is_validated_whole_and_nothing_is_half_written(state_dir: Path) -> None:
    started, calls = load_settings(), list[Settings]()
    editing.change(state_dir, started, {"audio.volume": 70}, "Ana", calls.append)
    before = local_settings_path(state_dir).read_bytes()
    with pytest.raises(SettingsRefusedError) as refused:
        editing.change(state_dir, started, {"audio.volume": 30, "tts.rate_wpm": 9000}, "Ana", calls.append)
    assert [(p.field, p.reason) for p in refused.value.problems] == [("tts.rate_wpm", "no máximo 400")]
    assert local_settings_path(state_dir).read_bytes() == before
    assert len(calls) == 1 and calls[0].audio.volume == 70  # the refused change applied nothing


def test_live_keys_apply_at_once_others_wait_for_a_restart(state_dir: Path) -> None:
    started, calls = load_settings(), list[Settings]()
    values = {"privacy.history": False, "tts.rate_wpm": 210, "tts.voice": "pt"}
    outcome = editing.change(state_dir, started, values, "Ana", calls.append)
    assert outcome.applied == ["privacy.history", "tts.rate_wpm"] and outcome.restart_needed == ["tts.voice"]
    assert calls and calls[0].privacy.history is False and calls[0].tts.rate_wpm == 210
    entries = changelog.recent(state_dir)
    assert {(e.who, e.key, e.old, e.new) for e in entries} == {
        ("Ana", "privacy.history", True, False), ("Ana", "tts.rate_wpm", 160, 210), ("Ana", "tts.voice", None, "pt")
    }  # fmt: skip


def test_the_language_heard_follows_the_language_spoken(state_dir: Path) -> None:
    editing.change(state_dir, load_settings(), {"conversation.language": "en"}, "Ana", lambda _: None)
    assert load_settings().stt.language == "en"


def test_secrets_are_masked_in_the_change_log(state_dir: Path, tmp_path: Path) -> None:
    secret = tmp_path / "broker-password"
    secret.write_text("hunter2")
    secret.chmod(0o600)
    editing.change(state_dir, load_settings(), {"sync.password_file": str(secret)}, "Ana", lambda _: None)
    [entry] = changelog.recent(state_dir)
    assert (entry.key, entry.old, entry.new) == ("sync.password_file", None, changelog.MASK)
    assert str(secret) not in changelog.changes_path(state_dir).read_text()


def test_keys_set_by_the_environment_are_refused(state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPO_TTS__RATE_WPM", "150")
    with pytest.raises(SettingsRefusedError) as refused:
        editing.change(state_dir, load_settings(), {"tts.rate_wpm": 200}, "Ana", lambda _: None)
    assert refused.value.problems[0].field == "tts.rate_wpm" and "ambiente" in refused.value.problems[0].reason
    assert not local_settings_path(state_dir).exists()


def test_keys_the_page_does_not_offer_are_refused(state_dir: Path) -> None:
    with pytest.raises(SettingsRefusedError) as refused:
        editing.change(state_dir, load_settings(), {"state_dir": "/tmp", "log_level": "debug"}, "Ana", lambda _: None)
    assert {p.field for p in refused.value.problems} == {"state_dir", "log_level"}


@pytest.mark.parametrize(
    "reason", ["starting", "no mic", "no speaker", "companion off", "LLM down", "disk full", "store quarantined",
               "broker unreachable", "pipeline failed: capture failed: boom"],
)  # fmt: skip
def test_every_health_reason_has_plain_words_and_what_to_do(reason: str) -> None:
    said = problem(reason)
    assert said.message != "Algo não vai bem" and said.action


def test_no_microphone_is_said_plainly(voice: VoiceService, state_dir: Path) -> None:
    voice.status.state = PipelineState.NO_AUDIO_INPUT
    status = read_status(voice, None, None, False, state_dir)
    assert status.verdict == judge(voice, None, None, False).status.value == "degraded"
    assert [(p.message, p.action) for p in status.problems] == [
        ("Nenhum microfone encontrado", "Verifique o cabo USB do microfone.")
    ]
    assert status.activity is Activity.NO_MICROPHONE and status.mic_level_dbfs is None
    assert status.disk.total_bytes > 0


def test_the_feed_sends_the_status_then_each_change(voice: VoiceService, state_dir: Path) -> None:
    frozen = read_status(voice, None, None, False, state_dir).disk  # other tests write to the disk meanwhile
    feed = StatusFeed(
        lambda: read_status(voice, None, None, False, state_dir).model_copy(update={"disk": frozen}), interval_s=0.01
    )

    async def watch() -> list[tuple[str, bool]]:
        changes = feed.changes()
        seen = []
        first = await asyncio.wait_for(anext(changes), 5)
        seen.append((first.status.activity.value, first.level_only))
        voice.status.state = PipelineState.LISTENING
        voice.level.dbfs = -30.0
        second = await asyncio.wait_for(anext(changes), 5)
        seen.append((second.status.activity.value, second.level_only))
        voice.level.dbfs = -20.0
        third = await asyncio.wait_for(anext(changes), 5)
        seen.append((str(third.status.mic_level_dbfs), third.level_only))
        assert feed.clients == 1
        await changes.aclose()
        return seen

    assert asyncio.run(watch()) == [("starting", False), ("listening", False), ("-20.0", True)]
    assert feed.clients == 0


def test_a_password_file_others_can_read_is_refused_naming_it(state_dir: Path, tmp_path: Path) -> None:
    secret = tmp_path / "broker-password"
    secret.write_text("hunter2")
    secret.chmod(0o644)
    change = {"sync.enabled": True, "sync.password_file": str(secret)}
    with pytest.raises(SettingsRefusedError) as refused:
        editing.change(state_dir, load_settings(), change, "Ana", lambda _: None)
    [said] = refused.value.problems
    assert said.field == "sync.password_file" and "chmod 600" in said.reason
    assert not local_settings_path(state_dir).exists()

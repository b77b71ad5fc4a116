"""Fleet settings that cannot take over a device: the allow-list, the owner's settings first, a fail-safe file."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from papo.fleet import FleetLink, apply_desired
from papo.settings import fleet_keys, fleet_settings_path, fleet_version_path, live_keys, load_settings
from papo_sync.protocol import DesiredState
from support.fakes import EmptyOutbox

_NOT_FLEET = "not settable by the fleet (set on the device only): "


def _keep(state_dir: Path, settings: object, version: int = 7) -> None:
    fleet_settings_path(state_dir).write_text(json.dumps(settings))
    fleet_version_path(state_dir).write_text(str(version))


def _set_aside(state_dir: Path) -> list[str]:
    return sorted(p.name.split(".set-aside-")[0] for p in state_dir.glob("*.set-aside-*"))


def test_the_allow_list_is_declared_on_the_fields() -> None:
    assert fleet_keys() == {
        "log_level", "stt.model", "stt.language", "stt.beam_size", "tts.engine", "tts.voice", "tts.rate_wpm",
        "conversation.language", "conversation.companion_name", "conversation.history_turns",
        "conversation.memories_in_prompt", "conversation.wake_words", "conversation.follow_up_s",
        "conversation.anticipate", "conversation.review_after_idle_s", "audio.volume",
    }  # fmt: skip
    forbidden = ("llm.", "server.", "sync.", "privacy.", "audio.", "device_id", "state_dir", "conversation.enabled")
    assert not [key for key in fleet_keys() - {"audio.volume"} if key.startswith(forbidden)]
    # the owner's privacy choices apply live from the page, and only the owner may make them
    assert live_keys() - fleet_keys() == {"privacy.history", "privacy.keep_unaddressed"}


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        ({"llm": {"endpoint": "http://203.0.113.9/v1"}}, _NOT_FLEET + "llm.endpoint"),
        ({"llm": {"api_key_env": "HOME", "temperature": 1}}, _NOT_FLEET + "llm.api_key_env, llm.temperature"),
        ({"server": {"host": "0.0.0.0"}}, _NOT_FLEET + "server.host"),
        ({"device_id": "someone-else"}, _NOT_FLEET + "device_id"),
        ({"sync": {"enabled": False}}, _NOT_FLEET + "sync.enabled"),
        ({"sync": "off"}, _NOT_FLEET + "sync"),
        ({"privacy": {"keep_unaddressed": True}}, _NOT_FLEET + "privacy.keep_unaddressed"),
        ({"audio": {"input_device": "hw:9"}}, _NOT_FLEET + "audio.input_device"),
        (
            {"conversation": {"wake_words": [], "follow_up_s": 30}},
            "conversation.wake_words: the fleet may not empty them (the device would answer everything)",
        ),
        ({"conversation": {"wake_words": ["lia", "o"]}}, "conversation.wake_words: each needs 3 letters or more"),
        ({"tts": {"voice": "-f/etc/hostname"}}, "tts.voice: a voice or model name (letters, digits, _ . + -)"),
        ({"log_level": "debug"}, "log_level: debug logs what people say; only the device's owner may turn it on"),
        ({"stt": {"model": "whisper-small"}}, "stt.model: Input should be 'whisper-base' or 'whisper-tiny-en'"),
        (
            {"tts": {"engine": "piper", "voice": "whisper-base"}},
            "tts.voice: whisper-base is not an installed tts model",
        ),
        ({"tts": {"engine": "piper", "voice": "nobody"}}, "tts.voice: nobody is not a model of this device"),
    ],
)
def test_takeover_attempts_are_refused_with_the_reason_and_nothing_kept(
    state_dir: Path, settings: dict[str, object], reason: str
) -> None:
    _keep(state_dir, {"conversation": {"follow_up_s": 45}}, version=3)
    report = apply_desired(DesiredState(version=4, settings=settings), state_dir)
    assert (report.accepted, report.version, report.reason) == (False, 4, reason)
    assert json.loads(fleet_settings_path(state_dir).read_text()) == {"conversation": {"follow_up_s": 45}}
    assert fleet_version_path(state_dir).read_text() == "3"


def test_a_model_that_is_not_installed_is_refused(state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("papo.fleet.installed", lambda entry: entry.name != "whisper-tiny-en")
    refused = apply_desired(DesiredState(version=1, settings={"stt": {"model": "whisper-tiny-en"}}), state_dir)
    assert refused.reason == "stt.model: whisper-tiny-en is not an installed stt model"
    assert apply_desired(DesiredState(version=2, settings={"tts": {"engine": "kokoro"}}), state_dir).accepted


def test_the_running_device_keeps_its_settings_when_the_fleet_is_refused(state_dir: Path) -> None:
    applied: list[object] = []
    link = FleetLink(load_settings(), EmptyOutbox(), lambda: "listening", {}, apply_live=applied.append)
    report = link.on_desired(DesiredState(version=1, settings={"llm": {"endpoint": "http://evil/v1"}}))
    assert not report.accepted and report.reason == _NOT_FLEET + "llm.endpoint"
    assert applied == [] and not fleet_settings_path(state_dir).exists()
    assert load_settings().llm.endpoint == "embedded"


def test_an_allowed_change_is_kept_and_applied_live(state_dir: Path) -> None:
    applied: list[str] = []
    link = FleetLink(
        load_settings(), EmptyOutbox(), lambda: "listening", {},
        apply_live=lambda settings: applied.append(settings.conversation.companion_name),
    )  # fmt: skip
    changes = {"conversation": {"companion_name": "Lia", "wake_words": ["lia"]}, "log_level": "warning"}
    report = link.on_desired(DesiredState(version=5, settings=changes))
    assert (report.accepted, report.reason, report.restart_needed) == (True, None, ["log_level"])
    assert applied == ["Lia"]
    settings = load_settings()
    assert (settings.conversation.companion_name, settings.conversation.wake_words) == ("Lia", ["lia"])
    assert fleet_version_path(state_dir).read_text() == "5"


def test_the_owners_toml_wins_over_the_fleet_and_the_held_keys_are_reported(
    state_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "papo.toml"
    config.write_text('[conversation]\nfollow_up_s = 10\nwake_words = ["papo", "lia"]\n')
    monkeypatch.setenv("PAPO_CONFIG", str(config))
    monkeypatch.setenv("PAPO_TTS__RATE_WPM", "150")
    changes = {"conversation": {"follow_up_s": 45, "history_turns": 3}, "tts": {"rate_wpm": 200}}
    report = apply_desired(DesiredState(version=2, settings=changes), state_dir)
    assert report.accepted
    assert report.reason == "held locally (the device's settings win): conversation.follow_up_s, tts.rate_wpm"
    assert report.held_locally == ["conversation.follow_up_s", "tts.rate_wpm"]
    settings = load_settings()
    assert settings.conversation.follow_up_s == 10  # the TOML file over the fleet
    assert settings.tts.rate_wpm == 150  # the environment over the fleet
    assert settings.conversation.history_turns == 3  # the fleet over the default
    assert settings.conversation.wake_words == ["papo", "lia"]


@pytest.mark.parametrize(
    "kept",
    [
        "{not json",
        ["a", "list"],
        {"llm": {"endpoint": "http://203.0.113.9/v1"}},  # a key no longer allowed
        {"conversation": {"follow_up_s": 9999}},  # an invalid value
        {"conversation": {"wake_words": []}},
    ],
    ids=["corrupt", "not-an-object", "no-longer-allowed", "invalid-value", "no-wake-words"],
)
def test_a_fleet_file_that_does_not_load_is_set_aside_and_the_device_starts_without_it(
    state_dir: Path, caplog: pytest.LogCaptureFixture, kept: object
) -> None:
    if isinstance(kept, str):
        fleet_settings_path(state_dir).write_text(kept)
        fleet_version_path(state_dir).write_text("7")
    else:
        _keep(state_dir, kept)
    with caplog.at_level(logging.WARNING, logger="papo.settings"):
        settings = load_settings()
    assert (settings.llm.endpoint, settings.conversation.follow_up_s) == ("embedded", 20.0)
    assert settings.conversation.wake_words == ["papo"]
    assert not fleet_settings_path(state_dir).exists() and not fleet_version_path(state_dir).exists()
    assert _set_aside(state_dir) == ["fleet-settings.json", "fleet-version"]
    warnings = [r for r in caplog.records if r.name == "papo.settings"]
    assert len(warnings) == 1 and "settings file set aside" in warnings[0].getMessage()
    load_settings()
    assert len([r for r in caplog.records if r.name == "papo.settings"]) == 1  # set aside once, not every load
    link = FleetLink(load_settings(), EmptyOutbox(), lambda: "listening", {})
    assert link.agent.status.applied_version == 0  # the set-aside version is no longer reported as applied


def test_a_fleet_file_that_loads_is_kept(state_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    _keep(state_dir, {"conversation": {"companion_name": "Lia"}})
    with caplog.at_level(logging.WARNING, logger="papo.settings"):
        assert load_settings().conversation.companion_name == "Lia"
    assert fleet_settings_path(state_dir).exists() and _set_aside(state_dir) == []
    assert not caplog.records

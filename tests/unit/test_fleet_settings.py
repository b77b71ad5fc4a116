"""Fleet settings: where the fleet file lives (the state dir from any source), precedence, live keys, the link."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from papo.fleet import FleetLink, apply_desired, changed_keys
from papo.settings import (
    ConversationSettings,
    Settings,
    fleet_settings_path,
    fleet_version_path,
    live_keys,
    load_settings,
)
from papo_sync.protocol import DesiredState
from support.fakes import EmptyOutbox


@pytest.fixture
def toml_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A state directory named only in the TOML file (no PAPO_STATE_DIR); a decoy fleet file in the default one."""
    monkeypatch.delenv("PAPO_STATE_DIR")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    decoy = tmp_path / "xdg" / "papo"
    decoy.mkdir(parents=True)
    fleet_settings_path(decoy).write_text(json.dumps({"conversation": {"history_turns": 9}}))
    state = tmp_path / "from-toml"
    state.mkdir()
    config = tmp_path / "papo.toml"
    config.write_text(f'state_dir = "{state}"\n[conversation]\nfollow_up_s = 10\nmemories_in_prompt = 2\n')
    monkeypatch.setenv("PAPO_CONFIG", str(config))
    return state


def _keep(state_dir: Path, settings: dict[str, object]) -> None:
    fleet_settings_path(state_dir).write_text(json.dumps(settings))


def test_the_fleet_file_lives_in_the_given_state_dir(tmp_path: Path) -> None:
    assert fleet_settings_path(tmp_path) == tmp_path / "fleet-settings.json"
    assert fleet_version_path(tmp_path) == tmp_path / "fleet-version"


def test_a_state_dir_set_only_in_the_toml_file_is_where_the_fleet_file_is_read(toml_state: Path) -> None:
    _keep(toml_state, {"conversation": {"history_turns": 5}})
    settings = load_settings()
    assert settings.state_dir == toml_state
    assert settings.conversation.history_turns == 5  # not the decoy's 9


def test_a_state_dir_set_only_in_the_toml_file_is_where_the_fleet_file_is_kept(toml_state: Path) -> None:
    report = apply_desired(DesiredState(version=3, settings={"conversation": {"history_turns": 3}}), toml_state)
    assert report.accepted
    assert json.loads(fleet_settings_path(toml_state).read_text()) == {"conversation": {"history_turns": 3}}
    assert fleet_version_path(toml_state).read_text() == "3"
    assert load_settings().conversation.history_turns == 3


def test_stronger_sources_name_the_state_dir_of_the_fleet_file(
    toml_state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from_env, from_args = tmp_path / "env", tmp_path / "args"
    for directory, value in ((from_env, 2), (from_args, 3)):
        directory.mkdir()
        _keep(directory, {"conversation": {"history_turns": value}})
    monkeypatch.setenv("PAPO_STATE_DIR", str(from_env))
    assert (load_settings().state_dir, load_settings().conversation.history_turns) == (from_env, 2)
    from_args_settings = load_settings(state_dir=from_args)
    assert (from_args_settings.state_dir, from_args_settings.conversation.history_turns) == (from_args, 3)


def test_precedence_arguments_environment_toml_fleet_defaults(
    toml_state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _keep(toml_state, {"conversation": {"follow_up_s": 45, "history_turns": 5}})
    settings = load_settings()
    assert settings.conversation.follow_up_s == 10  # the owner's TOML file over the fleet
    assert settings.conversation.history_turns == 5  # the fleet over the default
    assert settings.conversation.memories_in_prompt == 2  # the TOML file over the default
    assert settings.conversation.anticipate is True  # the default
    monkeypatch.setenv("PAPO_CONVERSATION__HISTORY_TURNS", "7")
    assert load_settings().conversation.history_turns == 7  # the environment over the fleet
    monkeypatch.setenv("PAPO_CONVERSATION__FOLLOW_UP_S", "50")
    assert load_settings().conversation.follow_up_s == 50  # the environment over the TOML file
    strongest = load_settings(conversation={"follow_up_s": 60})
    assert strongest.conversation.follow_up_s == 60  # arguments over the environment
    assert strongest.conversation.history_turns == 7  # ... merged key by key with the weaker sources


def test_desired_settings_merge_with_those_kept(state_dir: Path) -> None:
    assert apply_desired(DesiredState(version=1, settings={"conversation": {"follow_up_s": 45}}), state_dir).accepted
    report = apply_desired(DesiredState(version=2, settings={"tts": {"rate_wpm": 140}}), state_dir)
    assert report.accepted and report.version == 2
    kept = {"conversation": {"follow_up_s": 45}, "tts": {"rate_wpm": 140}}
    assert report.settings == kept and json.loads(fleet_settings_path(state_dir).read_text()) == kept


_NOT_FLEET = "not settable by the fleet (set on the device only): "


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        ({"state_dir": "/tmp/elsewhere"}, _NOT_FLEET + "state_dir"),
        ({"sync": {"host": "evil"}}, _NOT_FLEET + "sync.host"),
        ({"privacy": {"keep_unaddressed": True}}, _NOT_FLEET + "privacy.keep_unaddressed"),
        ({"stt": {"beam_size": 99}}, "stt.beam_size: Input should be less than or equal to 5"),
        ({"conversation": {"volume": 3}}, _NOT_FLEET + "conversation.volume"),
        ({"tts": {"rate_wpm": 999}}, "tts.rate_wpm: Input should be less than or equal to 400"),
    ],
)
def test_desired_settings_the_device_refuses_leave_the_kept_file_alone(
    state_dir: Path, settings: dict[str, object], reason: str
) -> None:
    _keep(state_dir, {"conversation": {"follow_up_s": 45}})
    report = apply_desired(DesiredState(version=4, settings=settings), state_dir)
    assert (report.accepted, report.reason) == (False, reason)
    assert json.loads(fleet_settings_path(state_dir).read_text()) == {"conversation": {"follow_up_s": 45}}
    assert not fleet_version_path(state_dir).exists()


def test_changed_keys_are_dotted() -> None:
    old = Settings(state_dir=Path("/a"))
    new = Settings(state_dir=Path("/b"), conversation=ConversationSettings(wake_words=["lia"], language="en"))
    assert sorted(changed_keys(old, new)) == ["conversation.language", "conversation.wake_words", "state_dir"]
    assert changed_keys(old, old) == []


def test_live_keys_come_from_the_fields_marked_live() -> None:
    assert live_keys() == {
        "conversation.companion_name", "conversation.history_turns", "conversation.memories_in_prompt",
        "conversation.wake_words", "conversation.follow_up_s", "conversation.anticipate",
        "conversation.review_after_idle_s", "audio.volume", "tts.rate_wpm", "privacy.keep_unaddressed",
        "privacy.history",
    }  # fmt: skip
    assert "conversation.crew" not in live_keys() and "conversation.language" not in live_keys()


def test_the_link_keeps_and_applies_fleet_settings_in_the_toml_state_dir(toml_state: Path) -> None:
    applied: list[Settings] = []
    settings = load_settings()
    link = FleetLink(settings, EmptyOutbox(), lambda: "listening", {}, apply_live=applied.append)
    assert link.agent.status.applied_version == 0
    changes = {"conversation": {"history_turns": 3, "language": "en"}}
    report = link.on_desired(DesiredState(version=1, settings=changes))
    assert report.accepted and report.restart_needed == ["conversation.language"]
    assert [s.conversation.history_turns for s in applied] == [3]
    assert json.loads(fleet_settings_path(toml_state).read_text()) == changes
    assert link.telemetry().outbox_depth == 0
    again = FleetLink(load_settings(), EmptyOutbox(), lambda: "listening", {})
    assert again.agent.status.applied_version == 1  # the kept version, read from the TOML's state dir
    report = again.on_desired(DesiredState(version=2, settings={"conversation": {"history_turns": 2}}))
    assert report.restart_needed == ["conversation.history_turns"]  # nothing applies it live here

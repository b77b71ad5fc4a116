from pathlib import Path

import pytest

from papo.errors import ConfigError
from papo.settings import default_state_dir, load_settings


def test_defaults_when_no_file_and_no_variables(state_dir: Path) -> None:
    settings = load_settings()
    assert settings.state_dir == state_dir
    assert settings.stt.model == "whisper-base"
    assert settings.stt.language == "pt"
    assert settings.stt.beam_size == 1
    assert settings.server.port == 8080


def test_toml_file_then_environment_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "papo.toml"
    config.write_text('[stt]\nlanguage = "en"\nbeam_size = 3\n[server]\nport = 9000\n')
    monkeypatch.setenv("PAPO_CONFIG", str(config))
    monkeypatch.setenv("PAPO_SERVER__PORT", "9100")
    settings = load_settings()
    assert settings.stt.language == "en"
    assert settings.stt.beam_size == 3
    assert settings.server.port == 9100


def test_invalid_value_names_key_and_allowed_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPO_STT__LANGUAGE", "klingon")
    with pytest.raises(ConfigError) as error:
        load_settings()
    message = str(error.value)
    assert "stt.language" in message
    assert "'pt'" in message and "'en'" in message
    assert "klingon" in message


def test_unknown_key_in_file_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "papo.toml"
    config.write_text("[vad]\nend_silense_ms = 300\n")
    monkeypatch.setenv("PAPO_CONFIG", str(config))
    with pytest.raises(ConfigError, match=r"vad\.end_silense_ms: Extra inputs are not permitted"):
        load_settings()


def test_broken_toml_file_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "papo.toml"
    config.write_text("[stt\nlanguage = ")
    monkeypatch.setenv("PAPO_CONFIG", str(config))
    with pytest.raises(ConfigError, match=str(config)):
        load_settings()


def test_state_dir_for_service_and_for_user(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/papo")
    assert default_state_dir() == Path("/var/lib/papo")
    monkeypatch.delenv("STATE_DIRECTORY")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert default_state_dir() == tmp_path / "xdg" / "papo"

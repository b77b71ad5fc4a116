"""The credentials `papo-cloud devices add` writes are settings papo itself loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from papo.settings import load_settings
from papo_sync.cloud.enrol import device_settings


def test_the_device_settings_file_is_papos_own_format(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    password = tmp_path / "dev-7.password"
    password.write_text("secret\n")
    password.chmod(0o600)
    config = tmp_path / "dev-7.toml"
    config.write_text(device_settings("dev-7", "familia-silva", "mqtt.example.org", 8883, password, Path("/ca.pem")))
    monkeypatch.setenv("PAPO_CONFIG", str(config))
    settings = load_settings(state_dir=tmp_path / "state")
    sync = settings.sync
    assert settings.device_id == "dev-7"
    assert (sync.enabled, sync.host, sync.port, sync.tenant) == (True, "mqtt.example.org", 8883, "familia-silva")
    assert (sync.password_file, sync.tls_ca) == (password, Path("/ca.pem"))
    assert "tls_ca" not in device_settings("dev-7", "t", "127.0.0.1", 1883, password, None)

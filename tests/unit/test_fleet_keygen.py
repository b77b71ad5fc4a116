"""`papo-cloud fleet keygen` and the fleet key in a device's credentials."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from papo.settings import load_settings
from papo_sync.cloud.cli import main
from papo_sync.cloud.enrol import device_settings
from papo_sync.cloud.keys import FleetKeyError, fleet_key, fleet_public_pem
from papo_sync.signing import load_public_key


def test_keygen_makes_a_private_key_and_its_public_half_and_never_replaces_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    private = tmp_path / "cloud" / "fleet.key"
    assert main(["fleet", "keygen", "--out", str(private)]) == 0
    printed = capsys.readouterr().out
    assert f"fleet signing key: {private}" in printed and "key id " in printed
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    public = tmp_path / "cloud" / "fleet.pub"
    assert load_public_key(public) == fleet_key(private).public_key()
    before = private.read_bytes()
    assert main(["fleet", "keygen", "--out", str(private)]) == 1
    assert "exists: devices trust it" in capsys.readouterr().err and private.read_bytes() == before


def test_the_signing_key_must_exist_and_be_private(tmp_path: Path) -> None:
    with pytest.raises(FleetKeyError, match="run `papo-cloud fleet keygen`"):
        fleet_key(tmp_path / "missing.key")
    private = tmp_path / "fleet.key"
    assert main(["fleet", "keygen", "--out", str(private)]) == 0
    private.chmod(0o644)
    with pytest.raises(FleetKeyError, match="chmod 600"):
        fleet_public_pem(private)


def test_the_device_settings_name_the_fleet_public_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    password, key = tmp_path / "dev-7.password", tmp_path / "dev-7.fleet.pub"
    password.write_text("pw\n")
    password.chmod(0o600)
    config = tmp_path / "dev-7.toml"
    config.write_text(device_settings("dev-7", "acme", "127.0.0.1", 1883, password, None, key))
    monkeypatch.setenv("PAPO_CONFIG", str(config))
    assert load_settings().sync.fleet_public_key == key

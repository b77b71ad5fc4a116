"""The image recipe (image/) is sound data: its settings load, its lists parse, its scripts pass shellcheck,
its presets name units that exist, and no password is set anywhere."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from papo.settings import Settings

REPO = Path(__file__).resolve().parents[2]
IMAGE = REPO / "image"
PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.-]+(:[a-z0-9]+)?$")


def _scripts() -> list[Path]:
    shell = [path for path in IMAGE.rglob("*") if path.is_file() and path.read_bytes()[:32].startswith(b"#!")]
    return sorted(path for path in shell if b"python" not in path.read_bytes().split(b"\n", 1)[0])


def test_the_shipped_settings_load_and_are_safe(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PAPO_CONFIG", str(IMAGE / "files/etc/papo/papo.toml"))
    settings = Settings(state_dir=tmp_path)
    assert settings.sync.enabled is False
    assert settings.log_level == "info"
    assert settings.privacy.keep_unaddressed is False
    assert settings.server.port == 8080


@pytest.mark.parametrize("name", sorted(p.stem for p in (IMAGE / "packages").glob("*.txt")))
def test_each_package_list_holds_package_names(name: str) -> None:
    lines = (IMAGE / "packages" / f"{name}.txt").read_text().splitlines()
    names = [line.split("#", 1)[0].strip() for line in lines]
    names = [n for n in names if n]
    assert names, f"{name}.txt lists nothing"
    assert all(PACKAGE.match(n) for n in names), names
    assert len(names) == len(set(names))


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is installed by `make test` (test-packages)")
def test_the_image_scripts_pass_shellcheck() -> None:
    shellcheck = shutil.which("shellcheck")
    assert shellcheck is not None
    scripts = _scripts()
    assert {p.name for p in scripts} >= {"build-amd64.sh", "build-pi.sh", "twin.sh", "wheels.sh", "release.sh"}
    result = subprocess.run([shellcheck, *map(str, scripts)], capture_output=True, text=True, check=False, cwd=IMAGE)
    assert result.returncode == 0, result.stdout


def test_every_preset_names_a_unit_the_image_has() -> None:
    units = {p.name for p in IMAGE.rglob("*.service")} | {p.name for p in (REPO / "systemd").glob("*.service")}
    units |= {"systemd-networkd.service"}  # Debian's own
    for preset in IMAGE.rglob("*.preset"):
        for line in preset.read_text().splitlines():
            if line.startswith("enable "):
                assert line.split()[1] in units, f"{preset.name}: {line}"


def test_no_password_is_set_anywhere_in_the_recipe() -> None:
    text = "\n".join(p.read_text(errors="replace") for p in IMAGE.rglob("*") if p.is_file())
    assert not re.search(r"^\s*FIRST_USER_PASS\s*=", text, re.MULTILINE)
    assert "chpasswd" not in text
    assert not re.search(r"passwd\s+(-d|--delete)", text)
    assert not re.search(r"^\s*password\s*=", text, re.MULTILINE)

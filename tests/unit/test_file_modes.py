"""File modes (issue 11): papo's umask, a private state directory (fixed on old installs), private secret files."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from papo.cli import main
from papo.errors import ConfigError
from papo.settings import load_settings
from papo.statedir import make_private, writable_dir
from papo.store import NewTurn, Store


@pytest.fixture
def umask() -> Iterator[None]:
    """Give the process back its umask and logging (papo's CLI sets both for the whole process)."""
    previous = os.umask(0o022)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    os.umask(previous)
    root.handlers[:] = handlers
    root.setLevel(level)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _modes(root: Path) -> dict[str, int]:
    """Mode of everything under `root` (itself included), symlinks left out, by relative path."""
    entries = [root, *root.rglob("*")]
    return {str(p.relative_to(root)): _mode(p) for p in entries if not p.is_symlink()}


def test_an_open_state_directory_is_made_private_at_start(tmp_path: Path) -> None:
    state = tmp_path / "old-install"
    (state / "cache").mkdir(parents=True)
    for path, mode in ((state, 0o755), (state / "cache", 0o775)):
        path.chmod(mode)
    for name, mode in (("papo.sqlite3", 0o644), ("cache/db", 0o664), ("run.sh", 0o755), ("private", 0o600)):
        (state / name).write_text("x")
        (state / name).chmod(mode)
    elsewhere = tmp_path / "shared-models"
    elsewhere.mkdir()
    elsewhere.chmod(0o755)
    (elsewhere / "model.bin").write_text("x")
    (elsewhere / "model.bin").chmod(0o644)
    (state / "models").symlink_to(elsewhere)
    assert writable_dir(state, "state") == state
    assert _modes(state) == {
        ".": 0o700, "cache": 0o700, "papo.sqlite3": 0o600, "cache/db": 0o600, "run.sh": 0o700, "private": 0o600,
    }  # fmt: skip
    assert _mode(elsewhere) == 0o755 and _mode(elsewhere / "model.bin") == 0o644  # not followed through the link
    assert make_private(state) == 0  # nothing left to change


def test_a_shared_directory_given_as_state_is_left_alone(tmp_path: Path) -> None:
    shared = tmp_path / "tmp"
    shared.mkdir()
    shared.chmod(0o1777)
    (shared / "other").write_text("x")
    (shared / "other").chmod(0o644)
    assert make_private(shared) == 0
    assert _mode(shared) == 0o1777 and _mode(shared / "other") == 0o644


def test_with_papos_umask_the_store_writes_private_files(state_dir: Path, umask: None) -> None:
    from papo.statedir import private_umask

    private_umask()
    settings = load_settings()
    with Store(settings.store_path, settings.device_id, 300) as store:
        store.turns.record(
            NewTurn(text="Papo, bom dia", language="pt", audio_start_s=0, audio_end_s=1, audio_duration_s=1,
                    stt_model="m", stt_window="short", vad_model="v"),
            "mic",
        )  # fmt: skip
        modes = _modes(state_dir)
    assert {"papo.sqlite3", "papo.sqlite3-wal"} <= set(modes)
    assert {name: mode for name, mode in modes.items() if mode not in (0o600, 0o700)} == {}


def test_the_cli_sets_umask_077_for_everything_it_writes(umask: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "show"]) == 0
    assert os.umask(0o022) == 0o077


@pytest.mark.parametrize("key", ["password_file", "tls_key"])
def test_a_secret_file_others_can_read_is_refused_with_the_chmod_that_fixes_it(tmp_path: Path, key: str) -> None:
    secret = tmp_path / "my secrets" / "broker-password"
    secret.parent.mkdir()
    secret.write_text("s3cret")
    secret.chmod(0o640)
    with pytest.raises(ConfigError) as refused:
        load_settings(sync={"enabled": True, key: str(secret)})
    assert str(refused.value) == (
        f"sync.{key} {secret} can be read by other users (mode 0640); run: chmod 600 '{secret}'"
    )
    assert load_settings(sync={"enabled": False, key: str(secret)}).sync.enabled is False  # not used: not checked
    secret.chmod(0o600)
    assert getattr(load_settings(sync={"enabled": True, key: str(secret)}).sync, key) == secret


def test_a_missing_secret_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"sync.password_file .*absent cannot be read: No such file"):
        load_settings(sync={"enabled": True, "password_file": str(tmp_path / "absent")})


def test_the_daemon_refuses_to_start_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], umask: None
) -> None:
    secret = tmp_path / "broker-password"
    secret.write_text("s3cret")
    secret.chmod(0o644)
    monkeypatch.setenv("PAPO_SYNC__ENABLED", "true")
    monkeypatch.setenv("PAPO_SYNC__PASSWORD_FILE", str(secret))
    assert main(["run"]) == 1
    err = capsys.readouterr().err
    fix = f"run: chmod 600 {secret}"
    assert err == f"papo: error: sync.password_file {secret} can be read by other users (mode 0644); {fix}\n"


def test_secrets_come_from_the_service_credentials_unless_a_file_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # papo.service: LoadCredential=papo:/etc/papo/credentials → $CREDENTIALS_DIRECTORY/papo_<file>
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    password, key = credentials / "papo_broker-password", credentials / "papo_tls-key"
    for path in (password, key):
        path.write_text("s3cret")
        path.chmod(0o400)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    sync = load_settings(sync={"enabled": True}).sync
    assert (sync.password_file, sync.tls_key) == (password, key)
    named = tmp_path / "elsewhere"
    named.write_text("other")
    named.chmod(0o600)
    assert load_settings(sync={"enabled": True, "password_file": str(named)}).sync.password_file == named
    key.unlink()
    assert load_settings(sync={"enabled": True}).sync.tls_key is None  # not enrolled with a key: none
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")
    assert load_settings(sync={"enabled": True}).sync.password_file is None  # outside systemd: only a named file

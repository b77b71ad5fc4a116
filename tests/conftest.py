"""Fixtures: an isolated state directory per test, shared provisioned models, generated speech."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from papo.engine import SpeechEngine, load_engine
from papo.models.manifest import load_manifest
from papo.models.provision import provision
from papo.settings import load_settings
from support.pulse import PulseRig
from support.speech import SpeechMaker

pytest_plugins = ["support.sync_fixtures"]

SENTENCES = [
    "Olá, meu nome é Maria e hoje eu quero conversar sobre o meu neto.",
    "Me lembra de tomar o remédio às oito horas.",
    "Ontem a minha filha veio almoçar aqui em casa com as crianças.",
    "O médico disse que eu preciso caminhar todos os dias de manhã.",
]


@pytest.fixture(scope="session")
def shared_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models directory provisioned once for the whole test session."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, shared_models: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Give each test its own state directory (sharing the provisioned models) and no system config."""
    state = tmp_path / "state"
    state.mkdir()
    (state / "models").symlink_to(shared_models)
    monkeypatch.setenv("PAPO_STATE_DIR", str(state))
    monkeypatch.setenv("PAPO_CONFIG", str(tmp_path / "absent.toml"))
    for name in ("STATE_DIRECTORY", "XDG_STATE_HOME"):
        monkeypatch.delenv(name, raising=False)
    return state


@pytest.fixture(scope="session")
def engine(shared_models: Path) -> Iterator[SpeechEngine]:
    """The real speech models (Silero VAD v6, Whisper base int8), loaded once."""
    settings = load_settings(state_dir=shared_models.parent / "engine-state")
    (settings.state_dir).mkdir(exist_ok=True)
    link = settings.state_dir / "models"
    if not link.exists():
        link.symlink_to(shared_models)
    yield load_engine(settings)


@pytest.fixture(scope="session")
def speech(request: pytest.FixtureRequest, shared_models: Path) -> SpeechMaker:
    """Generated pt-BR speech (espeak-ng phonemes voiced by Kokoro-82M), cached in pytest's cache."""
    kokoro = provision(load_manifest().get("kokoro-82m"), shared_models)
    cache = Path(request.config.cache.mkdir("papo-speech"))
    return SpeechMaker(kokoro, cache)


@contextmanager
def _read_only(directory: Path) -> Iterator[Path]:
    """Make `directory` read-only: a read-only bind mount as root (root ignores modes), chmod otherwise."""
    if os.geteuid() == 0:
        subprocess.run(["mount", "--bind", str(directory), str(directory)], check=True)
        try:
            subprocess.run(["mount", "-o", "remount,bind,ro", str(directory)], check=True)
            yield directory
        finally:
            subprocess.run(["umount", str(directory)], check=True)
    else:
        mode = directory.stat().st_mode
        directory.chmod(0o555)
        try:
            yield directory
        finally:
            directory.chmod(mode)


@pytest.fixture
def read_only() -> Callable[[Path], AbstractContextManager[Path]]:
    """A context manager that makes a directory read-only for the duration of a block."""
    return _read_only


@pytest.fixture(scope="session")
def english_speech(request: pytest.FixtureRequest, shared_models: Path) -> SpeechMaker:
    """Generated English speech (espeak-ng en-us phonemes voiced by Kokoro-82M)."""
    kokoro = provision(load_manifest().get("kokoro-82m"), shared_models)
    cache = Path(request.config.cache.mkdir("papo-speech"))
    return SpeechMaker(kokoro, cache, language="en-us")


@pytest.fixture(scope="session")
def pulse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PulseRig]:
    """A real PulseAudio server with a test microphone (papo_mic) and speaker (papo_speaker) on ALSA."""
    rig = PulseRig(tmp_path_factory.mktemp("pulse"))
    yield rig
    rig.close()


@pytest.fixture
def alsa_rig(pulse: PulseRig, monkeypatch: pytest.MonkeyPatch) -> PulseRig:
    """The PulseAudio rig, with this test's environment pointing ALSA at it."""
    for name, value in pulse.env.items():
        monkeypatch.setenv(name, value)
    return pulse

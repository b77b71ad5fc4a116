"""Fixtures and the test tiers.

Every test gets its own state directory. A test is marked with what it needs, so `make test-fast`
(`tests/unit -m "not models and not services and not audio and not browser and not slow"`) runs only the
unit tests that need none of it (the unmarked end-to-end CLI tests run with `make test`):

- `models`: real model files (Silero, Whisper, the embedding model, the GGUF LLM, Kokoro speech);
- `services`: PostgreSQL, Redis or Mosquitto;
- `audio`: an ALSA/PulseAudio device (the PulseAudio rig);
- `browser`: Chromium;
- `slow`: none of the above, but long (the cache's kill soak, the program run over and over).

Markers are added automatically for the fixtures that bring those things (see NEEDS below); a test that
needs one without such a fixture (a CLI command that loads the models) carries the marker explicitly.
Tests with none of them are unit-tier tests and get a short timeout. Heavy libraries are imported inside
the fixtures that use them, so collecting and running the fast tier never loads them.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Generator, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from papo.engine import SpeechEngine
    from support.pulse import PulseRig
    from support.speech import SpeechMaker

pytest_plugins = [
    "support.sync_fixtures", "support.browser", "support.disk", "support.companion_rig", "support.alert_fixtures",
]  # fmt: skip

SENTENCES = [
    "Olá, meu nome é Maria e hoje eu quero conversar sobre o meu neto.",
    "Me lembra de tomar o remédio às oito horas.",
    "Ontem a minha filha veio almoçar aqui em casa com as crianças.",
    "O médico disse que eu preciso caminhar todos os dias de manhã.",
]

HEAVY_MARKERS = ("models", "services", "audio", "browser", "slow")
NEEDS = {
    "models": {"engine", "speech", "english_speech", "shared_models"},
    "audio": {"pulse", "alsa_rig"},
    "services": {"database", "db", "broker", "cloud", "ingestor"},
    "browser": {"chromium"},
}
UNIT_TIMEOUT_S = 30


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing test's report ends with the log of every daemon it had running (what CI shows of a flake)."""
    report = yield
    if report.failed and call.when == "call":
        from support.browser import RUNNING

        for daemon in RUNNING:
            report.sections.append((f"daemon on port {daemon.port} (last lines)", daemon.log()[-6000:]))
        rig = getattr(item, "funcargs", {}).get("pulse")
        if rig is not None:
            report.sections.append(("the PulseAudio rig's log (last lines)", rig.log()))
    return report


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects anything
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with what its fixtures need; give the tests that need nothing heavy a short timeout."""
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        for marker, fixtures in NEEDS.items():
            if used & fixtures and item.get_closest_marker(marker) is None:
                item.add_marker(marker)
        if item.get_closest_marker("timeout") is None and not any(item.get_closest_marker(m) for m in HEAVY_MARKERS):
            item.add_marker(pytest.mark.timeout(UNIT_TIMEOUT_S))


@pytest.fixture(scope="session")
def shared_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models directory shared by the whole session, so each model is provisioned once."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Give each test its own state directory and no system config; it provisions nothing.

    A `models` test finds the session's shared models in it. Any other test gets an empty models directory
    and fails if it leaves a model there: it needed a model after all, so it must say so (mark it `models`).
    """
    state = tmp_path / "state"
    state.mkdir()
    models = state / "models"
    needs_models = request.node.get_closest_marker("models") is not None
    if needs_models:
        models.symlink_to(request.getfixturevalue("shared_models"))
    else:
        models.mkdir()
    monkeypatch.setenv("PAPO_STATE_DIR", str(state))
    monkeypatch.setenv("PAPO_CONFIG", str(tmp_path / "absent.toml"))
    for name in ("STATE_DIRECTORY", "XDG_STATE_HOME"):
        monkeypatch.delenv(name, raising=False)
    yield state
    if not needs_models and models.is_dir():
        provisioned = sorted(p.name for p in models.iterdir())
        assert not provisioned, f"a test without the `models` marker provisioned {provisioned}; mark it `models`"


@pytest.fixture(scope="session")
def engine(shared_models: Path) -> SpeechEngine:
    """The real speech models (Silero VAD v6, Whisper base int8), loaded once."""
    from papo.engine import load_engine
    from papo.settings import load_settings

    settings = load_settings(state_dir=shared_models.parent / "engine-state")
    settings.state_dir.mkdir(exist_ok=True)
    link = settings.state_dir / "models"
    if not link.exists():
        link.symlink_to(shared_models)
    return load_engine(settings)


def _speech_maker(request: pytest.FixtureRequest, shared_models: Path, language: str) -> SpeechMaker:
    from papo.models.manifest import load_manifest
    from papo.models.provision import provision
    from support.speech import SpeechMaker

    kokoro = provision(load_manifest().get("kokoro-82m"), shared_models)
    cache = Path(request.config.cache.mkdir("papo-speech"))
    return SpeechMaker(kokoro, cache, language=language)


@pytest.fixture(scope="session")
def speech(request: pytest.FixtureRequest, shared_models: Path) -> SpeechMaker:
    """Generated pt-BR speech (espeak-ng phonemes voiced by Kokoro-82M), cached in pytest's cache."""
    return _speech_maker(request, shared_models, "pt-br")


@pytest.fixture(scope="session")
def english_speech(request: pytest.FixtureRequest, shared_models: Path) -> SpeechMaker:
    """Generated English speech (espeak-ng en-us phonemes voiced by Kokoro-82M)."""
    return _speech_maker(request, shared_models, "en-us")


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
def pulse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PulseRig]:
    """A real PulseAudio server with a test microphone (papo_mic) and speaker (papo_speaker) on ALSA."""
    from support.pulse import PulseRig

    rig = PulseRig(tmp_path_factory.mktemp("pulse"))
    yield rig
    rig.close()


@pytest.fixture
def alsa_rig(pulse: PulseRig, monkeypatch: pytest.MonkeyPatch) -> PulseRig:
    """The PulseAudio rig, with this test's environment pointing ALSA at it."""
    for name, value in pulse.env.items():
        monkeypatch.setenv(name, value)
    return pulse

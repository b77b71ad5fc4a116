"""The companion on a real store with a journaled voice, speaking on a speaker the test gives: `Rig` and `make_rig`.

A pytest plugin (see `pytest_plugins` in tests/conftest.py), so any test can ask for `make_rig`. The device's
modules are imported inside the fixture: collecting the tests does not load them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from papo.conversation.companion import Companion
    from papo.settings import Settings
    from papo.speech.tts import Speaker
    from papo.store import Store


@dataclass
class Rig:
    """A companion on a real store, its voice journaled, speaking on `speaker`."""

    settings: Settings
    store: Store
    companion: Companion
    journal: list[str]

    def said(self) -> str:
        """What the voice said so far (sentence by sentence, joined)."""
        return " ".join(line.removeprefix("said ") for line in self.journal)


@pytest.fixture
def make_rig(state_dir: Any) -> Iterator[Callable[..., Rig]]:
    """Make companion rigs on a speaker (`make_rig(speaker, **audio_settings)`); close them all at the end."""
    from papo.cache import AudioCache
    from papo.conversation.companion import Companion
    from papo.conversation.crew import CrewRuntime
    from papo.conversation.speech_output import SpeechOutput
    from papo.settings import load_settings
    from papo.speech.tts import CachedVoice
    from papo.store import Store
    from support.fakes import JournalVoice

    made: list[Rig] = []

    def make(speaker: Speaker, **audio: Any) -> Rig:
        settings = load_settings(conversation={"crew": False, "review_after_idle_s": 0}, audio=audio)
        store = Store(settings.store_path, settings.device_id)
        journal: list[str] = []
        output = SpeechOutput(CachedVoice(JournalVoice(journal), AudioCache(None, "tts")), speaker)
        crew = CrewRuntime("http://127.0.0.1:9/v1", "none", enabled=False)
        rig = Rig(settings, store, Companion(settings, store, output, lambda: None, lambda: None, crew), journal)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        rig.companion.close()
        rig.store.close()

"""Issue 17: on a slow board the warm-up's own duration lengthens the wait for a reply's first token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from papo.cache import AudioCache
from papo.conversation import companion as companion_module
from papo.conversation.companion import Companion
from papo.conversation.crew import CrewRuntime
from papo.conversation.llm import ChatMessage
from papo.conversation.speech_output import SpeechOutput
from papo.settings import load_settings
from papo.speech.tts import CachedVoice
from papo.store import Store
from support.fakes import JournalVoice, NullSpeaker


class SlowChat:
    """A ChatClient whose warm-up read of the prompt takes `read_s` seconds of the patched clock."""

    model = "fake-llm"

    def __init__(self, clock: list[float], read_s: float) -> None:
        self.first_token_timeout_s = 6.0
        self._clock = clock
        self._read_s = read_s

    def stream(
        self,
        messages: list[ChatMessage],
        max_tokens: int,
        temperature: float,
        first_token_timeout_s: float = 0.0,
        attempt: int = 0,
    ) -> Iterator[str]:
        self._clock[0] += self._read_s
        yield "Oi"

    def wait_for_first_token_up_to(self, seconds: float) -> None:
        self.first_token_timeout_s = max(self.first_token_timeout_s, seconds)


def _warmed(state_dir: Path, monkeypatch: pytest.MonkeyPatch, read_s: float) -> float:
    clock = [1000.0]
    monkeypatch.setattr(companion_module.time, "monotonic", lambda: clock[0])
    settings = load_settings(conversation={"crew": False})
    store = Store(settings.store_path, settings.device_id)
    chat = SlowChat(clock, read_s)
    output = SpeechOutput(CachedVoice(JournalVoice([]), AudioCache(None, "tts")), NullSpeaker())
    crew = CrewRuntime("http://127.0.0.1:9/v1", "none", enabled=False)
    companion = Companion(settings, store, output, lambda: chat, lambda: None, crew)  # type: ignore[arg-type,return-value]
    try:
        companion.warm_up()
    finally:
        companion.close()
        store.close()
    return chat.first_token_timeout_s


def test_a_fast_board_keeps_the_setting(state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _warmed(state_dir, monkeypatch, read_s=0.8) == 6.0


def test_a_slow_board_waits_twice_its_warm_up(state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _warmed(state_dir, monkeypatch, read_s=9.0) == 18.0


def test_the_wait_granted_by_the_warm_up_is_bounded(state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _warmed(state_dir, monkeypatch, read_s=45.0) == companion_module.SLOW_BOARD_FIRST_TOKEN_MAX_S

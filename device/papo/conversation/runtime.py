"""The conversation engine: the companion and what it runs on (LLM, memory index, CrewAI), started in order."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from enum import StrEnum

from papo import _native
from papo.conversation.companion import Companion
from papo.conversation.crew import CrewRuntime
from papo.conversation.embedded import EMBEDDED, EmbeddedLlmServer, model_file
from papo.conversation.llm import ChatClient
from papo.conversation.memory import MemoryStore, open_memory
from papo.conversation.speech_output import SpeechOutput
from papo.errors import PapoError
from papo.settings import Settings
from papo.speech.tts import CachedVoice, Speaker
from papo.store import Store
from papo.system.logging import fields

log = logging.getLogger(__name__)


class ConversationState(StrEnum):
    """What /health says of the conversation engine."""

    LOADING = "loading"
    READY = "ready"
    NO_LLM = "no language model"
    DISABLED = "disabled"


@dataclass
class ConversationStatus:
    """A snapshot for /health."""

    state: ConversationState = ConversationState.LOADING
    detail: str = ""
    llm_url: str | None = None
    llm_model: str | None = None
    voice: str | None = None
    memories: int | None = None
    load_ms: float | None = None


def llm_base_url(settings: Settings) -> str:
    """The OpenAI-compatible base URL replies come from (the embedded server's loopback port, or the endpoint)."""
    if settings.llm.endpoint == EMBEDDED:
        return f"http://127.0.0.1:{settings.llm.port}/v1"
    return settings.llm.endpoint


class ConversationRuntime:
    """Owns the companion and what it runs on; the voice works at once, the LLM and memory once `start()` ran."""

    def __init__(self, settings: Settings, store: Store, speaker: Speaker, cache: _native.Cache | None) -> None:
        self.status = ConversationStatus()
        self.settings = settings
        self._store = store
        self._cache = cache
        self._server: EmbeddedLlmServer | None = None
        self.llm: ChatClient | None = None
        self.memory: MemoryStore | None = None
        voice = CachedVoice.configured(settings, cache)
        self.crew = CrewRuntime(
            llm_base_url(settings),
            settings.llm.model,
            enabled=settings.conversation.crew,
            storage_dir=str(settings.crew_dir),
        )
        self.companion = Companion(
            settings, store, SpeechOutput(voice, speaker), lambda: self.llm, lambda: self.memory, self.crew
        )
        self.status.voice = voice.name
        self.status.llm_url, self.status.llm_model = llm_base_url(settings), settings.llm.model
        if not settings.conversation.enabled:
            self.status.state = ConversationState.DISABLED

    def start(self, wait_for_crew: bool = True) -> None:
        """Start the LLM (embedded server or endpoint check), open memory and begin loading CrewAI; blocking."""
        started = time.perf_counter()
        settings = self.settings
        crew_thread = self.crew.start_loading()
        try:
            if settings.llm.endpoint == EMBEDDED:
                self._server = EmbeddedLlmServer(model_file(settings), settings.llm, settings.state_dir / "llm.log")
                self._server.start()
            client = ChatClient(
                llm_base_url(settings), settings.llm.model, settings.llm.first_token_timeout_s,
                settings.llm.reply_timeout_s, settings.llm.api_key_env,
            )  # fmt: skip
            self.llm = client
            if settings.llm.endpoint != EMBEDDED and not client.ready():
                log.warning("language model endpoint not answering yet", extra=fields(url=client.base_url))
        except PapoError as exc:
            self.status.state, self.status.detail = ConversationState.NO_LLM, str(exc)
            log.error("no language model; answering with fixed phrases", extra=fields(reason=str(exc)))
        try:
            self.memory = open_memory(settings, self._store.memories, self._cache)
            self.status.memories = self.memory.count()
        except Exception as exc:  # memory is a nicety: the companion talks without it
            log.error("memory unavailable", extra=fields(reason=str(exc)[:300]))
        if self.status.state is ConversationState.LOADING:
            self.status.state = ConversationState.READY
        self.status.load_ms = (time.perf_counter() - started) * 1000
        if crew_thread is not None and wait_for_crew:
            crew_thread.join()
        log.info(
            "conversation engine started",
            extra=fields(state=self.status.state.value, load_ms=round(self.status.load_ms)),
        )

    @property
    def llm_server_pid(self) -> int | None:
        """The embedded llama.cpp server's process id, while it runs."""
        return None if self._server is None else self._server.pid

    def close(self) -> None:
        """Finish post-turn work, wait for a CrewAI load in progress, release the LLM and stop its server."""
        self.companion.close()
        self.crew.close()
        if self.llm is not None:
            self.llm.close()
        if self._server is not None:
            self._server.stop()

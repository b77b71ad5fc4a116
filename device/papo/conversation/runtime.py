"""Put the companion together: voice first (it can speak at once), then the LLM, memory and CrewAI."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from enum import StrEnum

from papo import _native
from papo.cache import AudioCache, VectorCache
from papo.conversation.companion import Companion
from papo.conversation.crew import CrewRuntime
from papo.conversation.embedded import EMBEDDED, EmbeddedLlmServer, model_file
from papo.conversation.llm import ChatClient
from papo.errors import PapoError
from papo.settings import Settings
from papo.speech.tts import CachedVoice, Speaker, load_voice
from papo.store.db import TurnStore
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


class ConversationRuntime:
    """Owns the companion and what it runs on (the embedded llama.cpp server, the memory index, CrewAI)."""

    def __init__(self, settings: Settings, store: TurnStore, speaker: Speaker, cache: _native.Cache | None) -> None:
        self.status = ConversationStatus()
        self.settings = settings
        self._cache = cache
        self._server: EmbeddedLlmServer | None = None
        voice = CachedVoice(load_voice(settings, settings.conversation.language), AudioCache(cache, "tts"))
        base_url = self._base_url()
        crew = CrewRuntime(
            base_url,
            settings.llm.model,
            enabled=settings.conversation.crew,
            storage_dir=str(settings.state_dir / "crewai"),
        )
        self.companion = Companion(settings, store, speaker, voice, None, None, crew)
        self.status.voice = voice.name
        self.status.llm_url, self.status.llm_model = base_url, settings.llm.model
        if not settings.conversation.enabled:
            self.status.state = ConversationState.DISABLED

    def _base_url(self) -> str:
        if self.settings.llm.endpoint == EMBEDDED:
            return f"http://127.0.0.1:{self.settings.llm.port}/v1"
        return self.settings.llm.endpoint

    def start(self, wait_for_crew: bool = True) -> None:
        """Start the LLM (embedded server or endpoint check), open memory and begin loading CrewAI; blocking."""
        started = time.perf_counter()
        settings = self.settings
        crew_thread = self.companion.crew.start_loading()
        try:
            if settings.llm.endpoint == EMBEDDED:
                self._server = EmbeddedLlmServer(model_file(settings), settings.llm, settings.state_dir / "llm.log")
                self._server.start()
            client = ChatClient(
                self._base_url(), settings.llm.model, settings.llm.first_token_timeout_s,
                settings.llm.reply_timeout_s, settings.llm.api_key_env,
            )  # fmt: skip
            self.companion.llm = client
            if settings.llm.endpoint != EMBEDDED and not client.ready():
                log.warning("language model endpoint not answering yet", extra=fields(url=client.base_url))
        except PapoError as exc:
            self.status.state, self.status.detail = ConversationState.NO_LLM, str(exc)
            log.error("no language model; answering with fixed phrases", extra=fields(reason=str(exc)))
        self._open_memory()
        if self.status.state is ConversationState.LOADING:
            self.status.state = ConversationState.READY
        self.status.load_ms = (time.perf_counter() - started) * 1000
        if crew_thread is not None and wait_for_crew:
            crew_thread.join()
        log.info(
            "conversation engine started",
            extra=fields(state=self.status.state.value, load_ms=round(self.status.load_ms)),
        )

    def _open_memory(self) -> None:
        from papo.conversation.embeddings import MODEL_NAME, MiniLmEmbedder
        from papo.conversation.memory import MemoryStore
        from papo.models.manifest import load_manifest
        from papo.models.provision import provision

        try:
            directory = provision(load_manifest().get(MODEL_NAME), self.settings.models_dir)
            embedder = MiniLmEmbedder(directory, VectorCache(self._cache, "embeddings"))
            memory = MemoryStore(self.settings.memory_dir, self.companion.records, embedder)
        except Exception as exc:  # memory is a nicety: the companion talks without it
            log.error("memory unavailable", extra=fields(reason=str(exc)[:300]))
            return
        self.companion.memory = memory
        self.status.memories = memory.count()

    @property
    def llm_server_pid(self) -> int | None:
        """The embedded llama.cpp server's process id, while it runs."""
        return None if self._server is None else self._server.pid

    def close(self) -> None:
        """Finish post-turn work and stop the embedded server."""
        self.companion.close()
        if self._server is not None:
            self._server.stop()

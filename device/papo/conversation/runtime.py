"""The conversation engine: the companion and what it runs on (LLM, memory index, CrewAI), started in order."""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from enum import StrEnum

from papo import _native
from papo.conversation.companion import Companion
from papo.conversation.crew import CrewRuntime
from papo.conversation.embedded import EMBEDDED, EmbeddedLlm, model_file
from papo.conversation.llm import ChatClient, LlmUnavailableError
from papo.conversation.memory import MemoryStore, open_memory
from papo.conversation.speech_output import SpeechOutput
from papo.conversation.supervisor import ServerStatus
from papo.conversation.tuning import TUNED, Tuning
from papo.conversation.unspeakable import banned_tokens
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
    llm_server: ServerStatus | None = None  # the embedded server's live state and restarts
    voice: str | None = None
    memories: int | None = None
    load_ms: float | None = None


def endpoint_key(settings: Settings) -> str | None:
    """The API key of a configured endpoint (from the variable `llm.api_key_env` names), if any."""
    name = settings.llm.api_key_env
    return (os.environ.get(name) or None) if name else None


class ConversationRuntime:
    """Owns the companion and what it runs on; the voice works at once, the LLM and memory once `start()` ran."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        speaker: Speaker,
        cache: _native.Cache | None,
        tuning: Tuning = TUNED,
        voice: CachedVoice | None = None,
    ) -> None:
        self.status = ConversationStatus()
        self.settings = settings
        self.tuning = tuning
        self._store = store
        self._cache = cache
        self._server: EmbeddedLlm | None = None
        self._aborting = threading.Event()  # set by abort_start()
        embedded = settings.llm.endpoint == EMBEDDED
        self._api_key = secrets.token_urlsafe(32) if embedded else endpoint_key(settings)  # per run when embedded
        self._banned: list[int] = []  # the embedded model's unspeakable tokens, read at start
        self.llm: ChatClient | None = None
        self.memory: MemoryStore | None = None
        voice = voice or CachedVoice.configured(settings, cache)
        self.crew = CrewRuntime(
            self._base_url,
            settings.llm.model,
            enabled=settings.conversation.crew,
            storage_dir=str(settings.crew_dir),
            api_key=self._api_key,
        )
        self.companion = Companion(
            settings, store, SpeechOutput(voice, speaker), lambda: self.llm, lambda: self.memory, self.crew,
            tuning=tuning,
        )  # fmt: skip
        self.status.voice = voice.name
        self.status.llm_url, self.status.llm_model = settings.llm.endpoint, settings.llm.model
        if not settings.conversation.enabled:
            self.status.state = ConversationState.DISABLED

    def start(self, wait_for_crew: bool = True) -> None:
        """Start the LLM (embedded server or endpoint check), open memory and begin loading CrewAI; blocking."""
        started = time.perf_counter()
        settings = self.settings
        crew_thread = self.crew.start_loading()
        try:
            if settings.llm.endpoint == EMBEDDED and not self._aborting.is_set():
                gguf = model_file(settings)
                self._banned = banned_tokens(gguf)
                self._server = EmbeddedLlm(gguf, settings.llm, settings.state_dir / "llm.log", self._api_key)
                self.status.llm_server = self._server.status
                try:
                    self._server.start()
                finally:  # from now on a reply without the model (a restart) is the fallback phrase
                    self.llm = self._client()
                self.status.llm_url = self._server.status.url
            client = self.llm or self._client()
            self.llm = client
            if settings.llm.endpoint != EMBEDDED and not client.ready():
                log.warning("language model endpoint not answering yet", extra=fields(url=client.base_url))
            if settings.llm.endpoint == EMBEDDED:
                self.companion.warm_up()
        except PapoError as exc:
            self.status.state, self.status.detail = ConversationState.NO_LLM, str(exc)
            retrying = self._server is not None  # the supervisor keeps trying; /health follows its state
            log.error(
                "no language model; answering with fixed phrases", extra=fields(reason=str(exc), retrying=retrying)
            )
        if self._aborting.is_set():
            log.info("conversation engine start abandoned: the daemon is stopping")
            return
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

    def abort_start(self) -> None:
        """The daemon stops while the engine starts: abandon CrewAI's load and the model server so start() returns."""
        self._aborting.set()
        self.crew.abandon_load()
        if self._server is not None:
            self._server.stop()

    def _base_url(self) -> str:
        """The endpoint, or the embedded server's address now (LlmUnavailableError while it has none)."""
        if self.settings.llm.endpoint != EMBEDDED:
            return self.settings.llm.endpoint
        if self._server is None:
            raise LlmUnavailableError("the embedded language model is not started")
        return self._server.base_url()

    def _client(self) -> ChatClient:
        llm = self.settings.llm
        options = self.tuning.request_options(embedded=llm.endpoint == EMBEDDED, banned=self._banned)
        return ChatClient(
            self._base_url, llm.model, llm.first_token_timeout_s, llm.reply_timeout_s, self._api_key, options
        )

    @property
    def llm_server_pid(self) -> int | None:
        """The embedded llama.cpp server's process id, while it runs."""
        return None if self._server is None else self._server.pid

    def close(self) -> None:
        """Abandon a CrewAI load in progress, finish post-turn work, release the LLM and stop its server."""
        self.crew.abandon_load()  # a review waiting for the load then goes by the rule
        self.companion.close()
        self.crew.close()
        if self.llm is not None:
            self.llm.close()
        if self._server is not None:
            self._server.stop()

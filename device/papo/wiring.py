"""The one place the device's parts are assembled: the daemon and every CLI command take their parts from here."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from types import TracebackType
from typing import TYPE_CHECKING

from papo import _native
from papo.cache import AudioCache, open_cache
from papo.settings import Settings
from papo.store import Store
from papo.store.outbox import OutboxCap

if TYPE_CHECKING:
    from papo.audio.recorder import RecordingSpeaker
    from papo.audio.sources import FrameSource
    from papo.conversation.memory import MemoryStore
    from papo.conversation.runtime import ConversationRuntime
    from papo.conversation.tuning import Tuning
    from papo.engine import SpeechEngine
    from papo.listener import Listener, PauseObserver
    from papo.privacy.scrub import Scrubber
    from papo.speech.tts import CachedVoice, Speaker

log = logging.getLogger(__name__)


class Wiring:
    """Builds each part once, when first asked for, and closes them all (newest first) on `close()`.

    Heavy parts (speech models, the LLM, CrewAI, ChromaDB) are imported only when asked for, so light
    commands such as `papo memory list` start fast.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._stack = ExitStack()
        self._store: Store | None = None
        self._cache: _native.Cache | None = None
        self._cache_opened = False
        self._engine: SpeechEngine | None = None

    def __enter__(self) -> Wiring:
        """Use the parts in a with-block; they are closed at its end, also on errors."""
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        """Close every part built."""
        self.close()

    def close(self) -> None:
        """Close every part built, newest first."""
        self._stack.close()

    def store(self) -> Store:
        """The device's records (SQLite), migrated."""
        if self._store is None:
            settings = self.settings
            self._store = self._stack.enter_context(
                Store(
                    settings.store_path,
                    settings.device_id,
                    settings.store.conversation_idle_s,
                    OutboxCap.of(settings.sync),
                )
            )
        return self._store

    def cache(self, raise_if_in_use: bool = False) -> _native.Cache | None:
        """The sled cache, or None when it is off or unusable (papo works without it).

        With `raise_if_in_use`, a cache another process holds raises CacheInUseError (asked on first use).
        """
        if not self._cache_opened:
            self._cache = open_cache(self.settings, raise_if_in_use)
            self._cache_opened = True
            if self._cache is not None:
                self._stack.enter_context(self._cache)
        return self._cache

    def engine(self) -> SpeechEngine:
        """The speech models (VAD and speech-to-text), loaded once."""
        if self._engine is None:
            from papo.engine import load_engine

            self._engine = load_engine(self.settings)
        return self._engine

    def listener(self, speculative: bool, observer: PauseObserver | None = None) -> Listener:
        """A listener on the speech models, with its own speech-to-text worker thread.

        `observer` is told of the person's pauses (the companion's anticipator starts the answer there).
        """
        from papo.listener import Listener

        executor = self._stack.enter_context(ThreadPoolExecutor(max_workers=1, thread_name_prefix="stt"))
        engine = self.engine()
        return Listener(engine.endpointer(), engine.transcriber, executor, speculative=speculative, observer=observer)

    def microphone(self, device: str | None = None) -> FrameSource:
        """The microphone (`device`, else the configured one); raises NoAudioInputError when there is none."""
        from papo.audio.sources import open_microphone

        microphone = open_microphone(self.settings.audio, device)
        self._stack.callback(microphone.close)
        return microphone

    def speaker(self, required: bool = False) -> Speaker:
        """The loudspeaker; without one, an error when `required`, else a stand-in that drops the audio.

        The daemon keeps trying to open the real one meanwhile (`VoiceService.run_reminders`), with backoff.
        """
        from papo.audio.native import NativeSpeaker, open_speaker

        device = self.settings.audio.output_device
        speaker: Speaker = NativeSpeaker(device) if required else open_speaker(device)
        self._stack.callback(speaker.close)
        return speaker

    def recorder(self, rate: int = 22_050) -> RecordingSpeaker:
        """A speaker that records what is said (written to a WAV file afterwards)."""
        from papo.audio.recorder import RecordingSpeaker

        recorder = RecordingSpeaker(rate)
        self._stack.callback(recorder.close)
        return recorder

    def voice(self) -> CachedVoice:
        """The configured voice, its phrases cached."""
        from papo.speech.tts import CachedVoice

        return CachedVoice.configured(self.settings, self.cache())

    def audio_cache(self, namespace: str) -> AudioCache:
        """One namespace of the cache, for audio."""
        return AudioCache(self.cache(), namespace)

    def memory(self) -> MemoryStore:
        """The memory index on its own (without the companion), closed with the other parts."""
        from papo.conversation.memory import open_memory

        memory = open_memory(self.settings, self.store().memories, self.cache())
        self._stack.callback(memory.close)
        return memory

    def scrubber(self, memory: Callable[[], MemoryStore | None] = lambda: None) -> Scrubber:
        """What wipes erased records from the memory index and cache files (`memory`: the index open here, if any)."""
        from papo.privacy.scrub import Scrubber

        return Scrubber(self.store(), self.settings.memory_dir, memory, self.cache, self.settings.crew_dir)

    def conversation(
        self, speaker: Speaker, tuning: Tuning | None = None, voice: CachedVoice | None = None
    ) -> ConversationRuntime:
        """The conversation engine speaking on `speaker`, not started yet (`start()` loads the LLM and memory).

        `tuning`: how it asks the model (default: the tuned prompt and sampling; the benchmark also runs LEGACY);
        `voice`: another voice than the configured one (`papo chat --no-voice` voices nothing).
        """
        from papo.conversation.runtime import ConversationRuntime
        from papo.conversation.tuning import TUNED

        runtime = ConversationRuntime(self.settings, self.store(), speaker, self.cache(), tuning or TUNED, voice)
        self._stack.callback(runtime.close)
        return runtime

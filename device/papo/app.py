"""create_app(): the one composition root of the daemon; its lifespan starts and stops the voice pipeline."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.datastructures import State

from papo import _native
from papo.audio.native import open_speaker
from papo.audio.sources import FrameSource
from papo.cache import open_cache
from papo.conversation.runtime import ConversationRuntime
from papo.errors import PapoError
from papo.service import VoiceService
from papo.settings import Settings
from papo.speech.tts import Speaker
from papo.store.db import TurnStore
from papo.web.health import HealthController

log = logging.getLogger(__name__)


def create_app(settings: Settings, open_source: Callable[[], FrameSource] | None = None) -> Litestar:
    """Build the daemon: store, voice pipeline (background task) and the local web API."""
    store = TurnStore(settings.store_path, settings.device_id, settings.store.conversation_idle_s)
    cache = open_cache(settings)
    speaker = open_speaker(settings.audio.output_device) if settings.conversation.enabled else None
    conversation = _conversation(settings, store, speaker, cache)
    voice = VoiceService(settings, store, open_source=open_source, conversation=conversation)

    @asynccontextmanager
    async def pipeline_lifespan(app: Litestar) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(voice.run(), name="voice-pipeline")]
        if conversation is not None:
            tasks.append(asyncio.create_task(asyncio.to_thread(conversation.start), name="conversation-start"))
            tasks.append(asyncio.create_task(voice.run_reminders(), name="reminders"))
        log.info("daemon started", extra={"host": settings.server.host, "port": settings.server.port})
        try:
            yield
        finally:
            voice.stop()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
                    await asyncio.wait_for(task, timeout=10)
            if conversation is not None:
                await asyncio.to_thread(conversation.close)
            if speaker is not None:
                speaker.close()
            if cache is not None:
                cache.close()
            store.close()
            log.info("daemon stopped")

    return Litestar(
        route_handlers=[HealthController],
        lifespan=[pipeline_lifespan],
        state=State({"voice": voice, "store": store}),
    )


def _conversation(
    settings: Settings, store: TurnStore, speaker: Speaker | None, cache: _native.Cache | None
) -> ConversationRuntime | None:
    if speaker is None:
        return None
    try:
        return ConversationRuntime(settings, store, speaker, cache)
    except PapoError as exc:
        log.error("the companion cannot speak; only listening", extra={"reason": str(exc)})
        return None

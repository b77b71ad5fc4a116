"""create_app(): the one composition root of the daemon; its lifespan starts and stops the voice pipeline."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.datastructures import State

from papo.audio.sources import FrameSource
from papo.service import VoiceService
from papo.settings import Settings
from papo.store.db import TurnStore
from papo.web.health import HealthController

log = logging.getLogger(__name__)


def create_app(settings: Settings, open_source: Callable[[], FrameSource] | None = None) -> Litestar:
    """Build the daemon: store, voice pipeline (background task) and the local web API."""
    store = TurnStore(settings.store_path, settings.device_id, settings.store.conversation_idle_s)
    voice = VoiceService(settings, store, open_source=open_source)

    @asynccontextmanager
    async def pipeline_lifespan(app: Litestar) -> AsyncIterator[None]:
        task = asyncio.create_task(voice.run(), name="voice-pipeline")
        log.info("daemon started", extra={"host": settings.server.host, "port": settings.server.port})
        try:
            yield
        finally:
            voice.stop()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=10)
            store.close()
            log.info("daemon stopped")

    return Litestar(
        route_handlers=[HealthController],
        lifespan=[pipeline_lifespan],
        state=State({"voice": voice, "store": store}),
    )

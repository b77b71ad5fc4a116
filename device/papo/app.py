"""create_app(): the daemon's root; its parts come from the wiring, its lifespan starts and stops the pipeline."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.datastructures import State

from papo.audio.sources import FrameSource
from papo.conversation.runtime import ConversationRuntime
from papo.errors import PapoError
from papo.fleet import FleetLink
from papo.service import VoiceService
from papo.settings import Settings
from papo.store import Store
from papo.web.health import HealthController
from papo.wiring import Wiring
from papo_sync.protocol import Command, CommandName, CommandResult

log = logging.getLogger(__name__)


def create_app(settings: Settings, open_source: Callable[[], FrameSource] | None = None) -> Litestar:
    """Build the daemon: store, voice pipeline (background task) and the local web API."""
    parts = Wiring(settings)
    store = parts.store()
    conversation = _conversation(parts) if settings.conversation.enabled else None
    voice = VoiceService(settings, store, open_source=open_source, conversation=conversation)
    link = _fleet_link(settings, store, voice) if settings.sync.enabled else None

    @asynccontextmanager
    async def pipeline_lifespan(app: Litestar) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(voice.run(), name="voice-pipeline")]
        if conversation is not None:
            tasks.append(asyncio.create_task(asyncio.to_thread(conversation.start), name="conversation-start"))
            tasks.append(asyncio.create_task(voice.run_reminders(), name="reminders"))
        if link is not None:
            link.start()
        log.info("daemon started", extra={"host": settings.server.host, "port": settings.server.port})
        try:
            yield
        finally:
            voice.stop()
            if link is not None:
                await asyncio.to_thread(link.stop)
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
                    await asyncio.wait_for(task, timeout=10)
            await asyncio.to_thread(parts.close)
            log.info("daemon stopped")

    return Litestar(
        route_handlers=[HealthController],
        lifespan=[pipeline_lifespan],
        state=State({"voice": voice, "store": store, "fleet": link}),
        logging_config=None,  # papo's structured key=value logging (system/logging.py), not Litestar's default
    )


def _fleet_link(settings: Settings, store: Store, voice: VoiceService) -> FleetLink:
    def ok(command: Command, detail: str, **data: object) -> CommandResult:
        return CommandResult(command_id=command.command_id, ok=True, detail=detail, data=data)

    def restart(command: Command) -> CommandResult:
        voice.restart_input()
        return ok(command, "the audio input is being reopened")

    def delete_history(command: Command) -> CommandResult:
        erased = store.turns.delete_history()
        return ok(command, f"erased {erased} turns here; the cloud erases its copy", turns=erased)

    def forget_memories(command: Command) -> CommandResult:
        memory = voice.conversation.memory if voice.conversation is not None else None
        if memory is None:
            return CommandResult(command_id=command.command_id, ok=False, detail="memory is not loaded")
        return ok(command, "memories erased", memories=memory.forget_all())

    def apply_live(new: Settings) -> None:
        if voice.conversation is not None:
            voice.conversation.companion.apply_settings(new.conversation)

    commands = {
        CommandName.RESTART_PIPELINE: restart,
        CommandName.DELETE_HISTORY: delete_history,
        CommandName.FORGET_MEMORIES: forget_memories,
    }
    return FleetLink(settings, store.outbox, lambda: voice.status.state.value, commands, apply_live)


def _conversation(parts: Wiring) -> ConversationRuntime | None:
    try:
        return parts.conversation(parts.speaker())
    except PapoError as exc:
        log.error("the companion cannot speak; only listening", extra={"reason": str(exc)})
        return None

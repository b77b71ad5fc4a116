"""create_app(): the daemon's root; its parts come from the wiring, its lifespan starts and stops the pipeline."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from litestar import Litestar

from papo.audio.sources import FrameSource
from papo.conversation.runtime import ConversationRuntime
from papo.errors import PapoError
from papo.fleet import FleetLink, HealthProbe
from papo.privacy import fleet as privacy_fleet
from papo.privacy.presence import ServiceLock
from papo.privacy.scrub import Scrubber
from papo.privacy.watcher import ErasureWatcher
from papo.service import VoiceService
from papo.settings import Settings
from papo.store import Store
from papo.system.notify import Notifier
from papo.system.startup import StartupReport
from papo.system.watchdog import start_watchdog
from papo.web.context import WebContext
from papo.web.health import judge
from papo.web.mdns import advertised
from papo.web.panel import editing
from papo.web.security.accounts import Accounts
from papo.web.site import build_app
from papo.wiring import Wiring
from papo_sync.protocol import Command, CommandName, CommandResult

log = logging.getLogger(__name__)

SHUTDOWN_WAIT_S = 10.0  # what systemd's stop timeout and the tests' Ctrl-C leave for the tasks, together


def create_app(settings: Settings, open_source: Callable[[], FrameSource] | None = None) -> Litestar:
    """Build the daemon: store, voice pipeline (background task) and the local web API."""
    notifier = Notifier.from_environment()  # systemd (Type=notify): start-up stages, READY, watchdog; else nothing
    startup = StartupReport(notifier)
    startup.stage("opening the store")
    parts = Wiring(settings)
    store = parts.store()
    conversation = _conversation(parts) if settings.conversation.enabled else None
    voice = VoiceService(settings, store, open_source=open_source, conversation=conversation)
    if conversation is not None:  # «fala mais alto» holds after a restart, as a change made on the page does
        conversation.companion.voice_controls.keep = partial(editing.keep_spoken, settings, voice.apply_settings)
    voice.watch(startup.pipeline)
    scrubber = parts.scrubber(lambda: conversation.memory if conversation is not None else None)
    erasures = ErasureWatcher(scrubber)
    presence = ServiceLock(settings.state_dir)

    def health() -> tuple[str, list[str]]:  # for telemetry: the fleet sees what /health says
        verdict = judge(voice, store, link, settings.conversation.enabled)
        return verdict.status.value, verdict.reasons

    link = _fleet_link(settings, store, voice, scrubber, health, conversation) if settings.sync.enabled else None
    if link is not None and conversation is not None:  # Papo says an alert reached someone only from the cloud's word
        agent = link.agent
        conversation.companion.alerts.connect(lambda: agent.status.connected)

    @asynccontextmanager
    async def pipeline_lifespan(app: Litestar) -> AsyncIterator[None]:
        if not presence.acquire():
            log.warning("another companion service uses this state directory", extra={"dir": str(settings.state_dir)})
        tasks = [asyncio.create_task(voice.run(), name="voice-pipeline")]
        watchdog = start_watchdog(notifier, voice.vitals)  # when systemd asked for one (WatchdogSec=)
        started: asyncio.Task[None] | None = None
        if conversation is not None:
            started = asyncio.create_task(asyncio.to_thread(conversation.start), name="conversation-start")
            tasks += [started, asyncio.create_task(voice.run_reminders(), name="reminders")]
        tasks.append(asyncio.create_task(_watch_erasures(erasures, started), name="erasures"))
        if link is not None:
            link.start()
        log.info("daemon started", extra={"host": settings.server.host, "port": settings.server.port})
        try:
            yield
        finally:
            startup.stopping()
            if watchdog is not None:
                watchdog.cancel()
            voice.stop()
            erasures.stop()
            if conversation is not None and started is not None and not started.done():
                await asyncio.to_thread(conversation.abort_start)  # or stopping would wait for CrewAI and the model
            if link is not None:
                await asyncio.to_thread(link.stop)
            await _finish(tasks)
            await asyncio.to_thread(parts.close)
            presence.release()
            log.info("daemon stopped")

    ctx = WebContext(
        settings=settings, store=store, voice=voice, scrubber=scrubber, link=link, parts=parts,
        state_dir=settings.state_dir, accounts=Accounts(settings.state_dir),
        companion_wanted=settings.conversation.enabled,
    )  # fmt: skip

    @asynccontextmanager
    async def mdns_lifespan(app: Litestar) -> AsyncIterator[None]:
        async with advertised(settings):
            yield

    return build_app(ctx, lifespan=[pipeline_lifespan, mdns_lifespan])


async def _finish(tasks: Sequence[asyncio.Task[Any]]) -> None:
    """Give the background tasks SHUTDOWN_WAIT_S in all to end (not each), then cancel and name those still running."""
    done, running = await asyncio.wait(tasks, timeout=SHUTDOWN_WAIT_S)
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", extra={"task": task.get_name(), "reason": repr(task.exception())})
    if running:
        log.warning("stopping without waiting for", extra={"tasks": ",".join(sorted(t.get_name() for t in running))})
        for task in running:
            task.cancel()


async def _watch_erasures(erasures: ErasureWatcher, started: asyncio.Task[None] | None) -> None:
    """Wipe erasures asked for by `papo forget` once the memory index is open (or failed to open)."""
    if started is not None:
        await asyncio.wait([started])
    await erasures.run()


def _fleet_link(
    settings: Settings,
    store: Store,
    voice: VoiceService,
    scrubber: Scrubber,
    health: HealthProbe,
    conversation: ConversationRuntime | None,
) -> FleetLink:
    def restart(command: Command) -> CommandResult:
        voice.restart_input()
        return CommandResult(command_id=command.command_id, ok=True, detail="the audio input is being reopened")

    def apply_live(new: Settings) -> None:  # the same path as the page's changes
        voice.apply_settings(new)

    commands = {
        CommandName.RESTART_PIPELINE: restart,
        CommandName.DELETE_HISTORY: privacy_fleet.delete_history(store, scrubber),
        CommandName.FORGET_MEMORIES: privacy_fleet.forget_memories(store, scrubber),
    }
    on_alert = conversation.companion.alerts.update if conversation is not None else None
    return FleetLink(
        settings, store.outbox, lambda: voice.status.state.value, commands, apply_live, health, on_alert=on_alert
    )


def _conversation(parts: Wiring) -> ConversationRuntime | None:
    try:
        return parts.conversation(parts.speaker())
    except PapoError as exc:
        log.error("the companion cannot speak; only listening", extra={"reason": str(exc)})
        return None

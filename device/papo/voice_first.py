"""The voice before the page: while a transcript is being computed, the web server waits (briefly) before serving.

On two slow cores, a phone refreshing the page (or a script hammering the API) takes CPU from the speech-to-text
decode the person is waiting for. The listener marks each decode in flight (`track`); the web server's first
middleware awaits `wait_idle()` before handling a request, so requests are served in the gaps, at most
`max_wait_s` late. Waiting costs no CPU: the waiters are futures woken when the last decode ends.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

MAX_WAIT_S = 2.0  # a request is never held longer than this, however long the voice work goes on
UNHELD_PATHS = frozenset({"/health"})  # watchdogs and monitors see the daemon as it is, at once


class VoiceFirst:
    """Counts voice work in flight (from any thread); `wait_idle` lets async code wait for it to end."""

    def __init__(self, max_wait_s: float = MAX_WAIT_S) -> None:
        self.max_wait_s = max_wait_s
        self._lock = threading.Lock()
        self._busy = 0
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    @property
    def busy(self) -> bool:
        """Whether voice work is in flight now."""
        return self._busy > 0

    def track(self, future: Future[Any]) -> None:
        """Count `future` (a decode submitted to the STT worker) as voice work until it is done."""
        with self._lock:
            self._busy += 1
        future.add_done_callback(lambda _: self._end())

    def _end(self) -> None:
        with self._lock:
            self._busy -= 1
            if self._busy:
                return
            waiters, self._waiters = self._waiters, []
        for loop, waiter in waiters:
            if not loop.is_closed():
                loop.call_soon_threadsafe(_release, waiter)

    async def wait_idle(self) -> None:
        """Return once no voice work is in flight, or after `max_wait_s` at most."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if not self._busy:
                return
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append((loop, waiter))
        try:
            await asyncio.wait_for(waiter, self.max_wait_s)
        except TimeoutError:
            with self._lock:
                if (loop, waiter) in self._waiters:
                    self._waiters.remove((loop, waiter))


def _release(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class VoiceFirstGate:
    """ASGI layer: every HTTP request but /health waits for the voice work in flight (bounded) before it is served."""

    def __init__(self, app: ASGIApp, voice_first: VoiceFirst) -> None:
        self._app = app
        self._voice_first = voice_first

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Hold the request while a transcript is being computed, then pass it on."""
        if scope["type"] == ScopeType.HTTP and scope["path"] not in UNHELD_PATHS and self._voice_first.busy:
            await self._voice_first.wait_idle()
        await self._app(scope, receive, send)

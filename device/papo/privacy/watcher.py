"""The companion service's part in erasures asked for elsewhere (`papo forget` while the service runs)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from papo.privacy.scrub import Scrubber

log = logging.getLogger(__name__)

POLL_S = 1.0
RETRY_S = 60.0


class ErasureWatcher:
    """Checks the store for erasures not yet wiped from the index and cache this service holds, and wipes them."""

    def __init__(self, scrubber: Scrubber, poll_s: float = POLL_S, retry_s: float = RETRY_S) -> None:
        self._scrubber = scrubber
        self._poll_s = poll_s
        self._retry_s = retry_s
        self._stop = asyncio.Event()

    async def run(self) -> None:
        """Check every `poll_s` until `stop()`; after a failure, wait `retry_s` before trying again."""
        while not self._stop.is_set():
            delay = self._poll_s
            try:
                await asyncio.to_thread(self._scrubber.run_pending)
            except Exception:  # a failed wipe is retried; it must not end the loop
                log.exception("cannot wipe an erasure from the memory index and cache; trying again later")
                delay = self._retry_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)

    def stop(self) -> None:
        """Ask `run()` to return (call it on the loop `run()` runs on)."""
        self._stop.set()

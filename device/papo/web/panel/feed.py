"""The live status for every open Início: read at most every `interval_s` (one read shared by all), sent on change.

Each client gets a `status` event when anything but the microphone level changed, and a `level` event when the
level changed (so at most 1 / interval_s, ~4/s). Reading touches no part of the voice pipeline's work.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass

from papo.web.panel.status import Status

INTERVAL_S = 0.25


@dataclass(frozen=True)
class Change:
    """What a client is sent: the whole status (`level_only` False) or only a new microphone level."""

    status: Status
    level_only: bool


class StatusFeed:
    """The shared status read-out and, per client, the changes since the last one it was sent."""

    def __init__(self, read: Callable[[], Status], interval_s: float = INTERVAL_S) -> None:
        self._read = read
        self._interval = interval_s
        self._latest: Status | None = None
        self._read_at = float("-inf")
        self.clients = 0  # streams open now

    def latest(self) -> Status:
        """The status, read again only if the last read is older than the interval."""
        now = time.monotonic()
        if self._latest is None or now - self._read_at >= self._interval:
            self._latest, self._read_at = self._read(), now
        return self._latest

    async def changes(self) -> AsyncGenerator[Change, None]:
        """The status now, then each change, until the client goes (the caller stops iterating)."""
        self.clients += 1
        try:
            sent: Status | None = None
            while True:
                status = self.latest()
                if sent is None or _without_level(status) != _without_level(sent):
                    yield Change(status, level_only=False)
                    sent = status
                elif status.mic_level_dbfs != sent.mic_level_dbfs:
                    yield Change(status, level_only=True)
                    sent = status
                await asyncio.sleep(self._interval)
        finally:
            self.clients -= 1


def _without_level(status: Status) -> Status:
    return status.model_copy(update={"mic_level_dbfs": None})

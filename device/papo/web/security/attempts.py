"""Counting failed tries (setup codes, logins) per address and overall, to answer 429 past a limit."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

OVERALL = "*"


class Attempts:
    """At most `limit` failures within `window_s` seconds for one address, and `overall_limit` for all together."""

    def __init__(
        self, limit: int, window_s: float, overall_limit: int | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.overall_limit = overall_limit
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and now - failures[0] >= self.window_s:
            failures.popleft()
        return failures

    def retry_after(self, address: str) -> int:
        """Seconds until `address` may try again; 0 when it may now."""
        now = self._clock()
        with self._lock:
            waits = [0.0]
            for key, limit in ((address, self.limit), (OVERALL, self.overall_limit)):
                failures = self._recent(key, now)
                if limit is not None and len(failures) >= limit:
                    waits.append(failures[-limit] + self.window_s - now)
            return max(0, int(max(waits) + 0.999))

    def failed(self, address: str) -> None:
        """Count one failure for `address` (and overall)."""
        now = self._clock()
        with self._lock:
            if len(self._failures) > 10_000:  # a flood of addresses: forget the idle ones
                self._failures = {k: v for k, v in self._failures.items() if self._recent(k, now)}
            for key in (address, OVERALL):
                self._recent(key, now).append(now)

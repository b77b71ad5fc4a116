"""A command's side of an erasure: wipe the memory index and cache here, or have the running service do it."""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum

from papo.cache import CacheInUseError
from papo.privacy.presence import service_running
from papo.store import ErasureRequest, Store
from papo.wiring import Wiring

WAIT_S = 60.0
NOTE_EVERY_S = 5.0
_POLL_S = 0.2


class Wiped(StrEnum):
    """Where the memory index and cache were wiped of an erasure (SQLite always is, by the erasure itself)."""

    HERE = "here"  # by this command: no service was running
    BY_SERVICE = "service"  # by the running companion service, while this command waited
    NOT_YET = "not yet"  # the running service has not finished within the wait; it will
    BLOCKED = "blocked"  # another papo command holds the cache; the service does it when it next starts


def finish(
    parts: Wiring,
    request: ErasureRequest,
    wait_s: float = WAIT_S,
    waiting: Callable[[float], None] = lambda elapsed: None,
) -> Wiped:
    """Wipe the erasure from the memory index and cache files; `waiting(seconds)` is told while the service works.

    The companion service holds the index and the cache open (the cache can be opened by one process only), so
    while it runs this command leaves the request in the store for it and waits, at most `wait_s`.
    """
    if service_running(parts.settings.state_dir):
        waiting(0.0)
        return Wiped.BY_SERVICE if _wait_wiped(parts.store(), request.id, wait_s, waiting) else Wiped.NOT_YET
    try:
        parts.cache(raise_if_in_use=True)
    except CacheInUseError:
        return Wiped.BLOCKED
    parts.scrubber().run_pending()
    return Wiped.HERE


def _wait_wiped(store: Store, request_id: str, wait_s: float, waiting: Callable[[float], None]) -> bool:
    started = time.monotonic()
    noted = started
    while True:
        request = store.erasures.get(request_id)
        if request is None or request.scrubbed_at is not None:
            return True
        now = time.monotonic()
        if now - started >= wait_s:
            return False
        if now - noted >= NOTE_EVERY_S:
            noted = now
            waiting(now - started)
        time.sleep(_POLL_S)

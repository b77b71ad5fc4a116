"""Restarting papo from its web page: the server stops cleanly and `papo run` exits with RESTART_EXIT_CODE.

The unit has `Restart=on-failure`, so that non-zero exit brings papo back after `RestartSec` (a SIGTERM would
not: systemd counts it as a clean stop). Without a service manager (`papo run` by hand) nothing would start it
again, so a restart is refused there (`supervised()`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

RESTART_EXIT_CODE = 75  # EX_TEMPFAIL: non-zero, so systemd's Restart=on-failure starts papo again

_requested = threading.Event()
_stoppers: list[Callable[[], None]] = []


def supervised() -> bool:
    """Whether a service manager starts papo again when it exits (systemd sets INVOCATION_ID for its services)."""
    return bool(os.environ.get("INVOCATION_ID"))


def on_restart(stop: Callable[[], None]) -> None:
    """Register how the running server stops (`papo run`: tell uvicorn to shut down)."""
    _stoppers.append(stop)


def _stop_self() -> None:
    for stop in _stoppers:
        stop()


def request_restart() -> None:
    """Stop the daemon cleanly; `papo run` then exits with RESTART_EXIT_CODE."""
    _requested.set()
    _stop_self()


def restart_requested() -> bool:
    """Whether the daemon is stopping to be restarted."""
    return _requested.is_set()

"""sd_notify(3): tell systemd how start-up goes (STATUS=), when papo is ready, that it is alive, that it stops.

Messages go through systemd-python (`systemd.daemon.notify`), imported only when `NOTIFY_SOCKET` is set. Outside
systemd (no `NOTIFY_SOCKET`: a terminal, the tests) every call does nothing. Without systemd-python (a developer's
laptop where libsystemd-dev was missing) a warning says so once and nothing is sent.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)

Send = Callable[[str], object]


def _systemd_send() -> Send | None:
    try:
        from systemd import daemon
    except ImportError:
        log.warning("systemd-python is not installed: systemd is not told when papo is ready or alive")
        return None
    notify: Send = daemon.notify
    return notify


def _line(text: str) -> str:
    """A value on one line (a STATUS= with a newline would start another assignment)."""
    return " ".join(text.split())


class Notifier:
    """Sends sd_notify messages to the service manager; does nothing when there is none (`send` is None)."""

    def __init__(self, send: Send | None) -> None:
        self._send = send

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> Notifier:
        """A notifier on `$NOTIFY_SOCKET` when systemd set one (Type=notify), else one that does nothing."""
        return cls(_systemd_send() if environ.get("NOTIFY_SOCKET") else None)

    @property
    def enabled(self) -> bool:
        """Whether a service manager listens."""
        return self._send is not None

    def _notify(self, *assignments: str) -> None:
        if self._send is not None:
            self._send("\n".join(assignments))

    def status(self, text: str) -> None:
        """Say what papo is doing, in plain words (`systemctl status papo` shows it)."""
        self._notify(f"STATUS={_line(text)}")

    def ready(self, text: str) -> None:
        """Start-up is over (READY=1), with what papo is doing now."""
        self._notify("READY=1", f"STATUS={_line(text)}")

    def extend_timeout(self, seconds: float) -> None:
        """Ask for `seconds` more before the start-up (or stop) times out (EXTEND_TIMEOUT_USEC)."""
        self._notify(f"EXTEND_TIMEOUT_USEC={max(1, round(seconds * 1_000_000))}")

    def alive(self) -> None:
        """Keep the watchdog from firing (WATCHDOG=1): send only when papo's own checks pass."""
        self._notify("WATCHDOG=1")

    def stopping(self, text: str = "stopping") -> None:
        """Papo is shutting down (STOPPING=1)."""
        self._notify("STOPPING=1", f"STATUS={_line(text)}")


def watchdog_interval(environ: Mapping[str, str] = os.environ, pid: int | None = None) -> float | None:
    """Seconds between WATCHDOG=1 pings: half of `$WATCHDOG_USEC` (as sd_watchdog_enabled(3)); None when off.

    The watchdog is for this process only when `$WATCHDOG_PID` (if set) is its pid.
    """
    usec = environ.get("WATCHDOG_USEC", "")
    owner = environ.get("WATCHDOG_PID", "")
    if owner and owner != str(os.getpid() if pid is None else pid):
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 2_000_000 if value > 0 else None

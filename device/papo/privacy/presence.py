"""Whether the companion service is running: it holds a lock file in the state directory while it runs."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_NAME = "service.lock"


class ServiceLock:
    """An exclusive lock on `state_dir/service.lock`, released by the system when its holder exits."""

    def __init__(self, state_dir: Path) -> None:
        self._path = state_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock; False if another process (or another holder here) has it."""
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        """Let go of the lock (if held)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def service_running(state_dir: Path) -> bool:
    """True while a companion service (`papo run`) is running on `state_dir`."""
    probe = ServiceLock(state_dir)
    if not probe.acquire():
        return True
    probe.release()
    return False

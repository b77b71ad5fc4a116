"""A service manager's end of sd_notify for the tests: an AF_UNIX datagram socket that keeps every message it gets.

`NotifySocket` binds an abstract socket (no path-length limit, nothing left on disk), receives on a thread and
records each datagram with its arrival time (monotonic), as systemd would see them. The daemon finds it through
`env` (NOTIFY_SOCKET=@name).
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from dataclasses import dataclass
from types import TracebackType


@dataclass(frozen=True)
class Message:
    """One sd_notify datagram: its KEY=VALUE assignments and when it arrived (time.monotonic())."""

    at: float
    assignments: dict[str, str]

    def get(self, key: str) -> str | None:
        """The value assigned to `key` in this message, if any."""
        return self.assignments.get(key)


class NotifySocket:
    """An abstract AF_UNIX datagram socket receiving sd_notify messages on a background thread."""

    def __init__(self) -> None:
        self.name = f"papo-test-notify-{uuid.uuid4().hex}"
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind("\0" + self.name)
        self._socket.settimeout(0.2)
        self._lock = threading.Lock()
        self._messages: list[Message] = []
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._receive, name="notify-socket", daemon=True)
        self._thread.start()

    @property
    def env(self) -> dict[str, str]:
        """The environment that points a daemon at this socket."""
        return {"NOTIFY_SOCKET": "@" + self.name}

    def messages(self) -> list[Message]:
        """Every message received so far, in order."""
        with self._lock:
            return list(self._messages)

    def values(self, key: str) -> list[str]:
        """The values of `key` in the messages so far, in order (e.g. every STATUS= line)."""
        return [value for m in self.messages() if (value := m.get(key)) is not None]

    def arrivals(self, key: str, value: str) -> list[float]:
        """When the messages with `key=value` arrived (e.g. every WATCHDOG=1)."""
        return [m.at for m in self.messages() if m.get(key) == value]

    def _receive(self) -> None:
        while not self._closed.is_set():
            try:
                data = self._socket.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            at = time.monotonic()
            lines = data.decode().split("\n")
            message = Message(at, dict(line.split("=", 1) for line in lines if "=" in line))
            with self._lock:
                self._messages.append(message)

    def close(self) -> None:
        """Stop receiving and close the socket."""
        self._closed.set()
        self._thread.join(timeout=5)
        self._socket.close()

    def __enter__(self) -> NotifySocket:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

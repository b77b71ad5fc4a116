"""Caregiver-side test doubles that are real servers: an SMTP server (aiosmtpd) and an HTTP receiver."""

from __future__ import annotations

import email
import email.policy
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from support.broker import free_port


class _Inbox:
    """Things that arrived, and a way to wait for them."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._arrived = threading.Condition()

    def add(self, item: Any) -> None:
        with self._arrived:
            self.items.append(item)
            self._arrived.notify_all()

    def wait_for(self, count: int, timeout_s: float = 30) -> list[Any]:
        """The first `count` items, once they are there."""
        with self._arrived:
            assert self._arrived.wait_for(lambda: len(self.items) >= count, timeout_s), (
                f"{count} item(s) expected, {len(self.items)} came"
            )
            return self.items[:count]


@dataclass(frozen=True)
class Mail:
    """One message the SMTP server accepted, and when (time.monotonic())."""

    recipients: list[str]
    message: EmailMessage
    encrypted: bool = False
    at: float = field(default_factory=time.monotonic)


class SmtpServer(_Inbox):
    """A real SMTP server (aiosmtpd, loopback) keeping every message it accepts; STARTTLS with `tls` (cert, key)."""

    def __init__(self, tls: tuple[Path, Path] | None = None) -> None:
        from aiosmtpd.controller import Controller

        super().__init__()
        server = self

        class Handler:
            async def handle_DATA(self, _: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                message = email.message_from_bytes(envelope.content, policy=email.policy.default)
                server.add(Mail(list(envelope.rcpt_tos), message, encrypted=session.ssl is not None))
                return "250 OK"

        self.port = free_port()
        options: dict[str, Any] = {}
        if tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            options = {"tls_context": context, "require_starttls": True}
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **options)
        self._controller.start()

    def messages(self, count: int, timeout_s: float = 30) -> list[Mail]:
        """The first `count` messages, once they are there."""
        return self.wait_for(count, timeout_s)

    def stop(self) -> None:
        self._controller.stop()


@dataclass(frozen=True)
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    at: float = field(default_factory=time.monotonic)


class HttpReceiver(_Inbox):
    """A local HTTP server standing for a webhook gateway or ntfy: answers `fail_status` to the first `fail_first`."""

    def __init__(self, fail_first: int = 0, fail_status: int = 500) -> None:
        super().__init__()
        self.fail_first = fail_first
        receiver = self
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    failing = receiver.fail_first > 0
                    receiver.fail_first -= 1 if failing else 0
                status = fail_status if failing else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                receiver.add(Received(self.path, dict(self.headers.items()), body, status))

            def log_message(self, *_: Any) -> None:
                return

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self.port = int(self._http.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()

    def succeeded(self) -> list[Received]:
        """The requests it answered 2xx."""
        return [r for r in self.items if r.status == 200]

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()


def alert_settings(cloud: Any, smtp: SmtpServer, **changes: Any) -> Any:
    """`cloud` (CloudSettings) with the alert service on `smtp`, a fresh ack port, quick sweeps and retries.

    The service connects to the broker as the `fleet` role (it signs and publishes the devices' AlertUpdates).
    """
    from papo_sync.cloud.settings import AlertSettings, BrokerSettings, SmtpSettings
    from support.broker import CLOUD_USERS

    port = free_port()
    alerts = AlertSettings(
        smtp=SmtpSettings(port=smtp.port, from_addr="papo@example.org"), listen_port=port,
        public_url=f"http://127.0.0.1:{port}", sweep_s=0.5, retry_first_s=0.05, retry_max_s=0.2, **changes,
    )  # fmt: skip
    broker = BrokerSettings(port=cloud.broker.port, username="fleet", password=CLOUD_USERS["fleet"])
    return cloud.model_copy(update={"alerts": alerts, "broker": broker})


@contextmanager
def alert_service(settings: Any) -> Iterator[Any]:
    """One alert service (papo-cloud alerts) running on a thread, ready; stopped at the end."""
    from papo_sync.cloud.alerts.service import AlertService

    service = AlertService(settings)
    thread = threading.Thread(target=service.run, daemon=True)
    thread.start()
    assert service.ready.wait(10), "the alert service did not start"
    try:
        yield service
    finally:
        service.stop()
        thread.join(timeout=10)

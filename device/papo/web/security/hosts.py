"""The Host allow-list (against DNS rebinding): the device's mDNS name, its own addresses and localhost.

Litestar's AllowedHostsConfig compares the whole Host header (port included) with names fixed at start-up; the
device's addresses change (DHCP after boot, Wi-Fi joined later), so this middleware strips the port and, on an
unknown Host, looks at the machine's addresses again (at most every 5 s) before refusing with 400. It wraps the
whole app, so every path (routed or not, HTTP or websocket, SSE included) is refused the same way.
"""

from __future__ import annotations

import hashlib
import ipaddress
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import psutil
from litestar.datastructures import Headers
from litestar.enums import ScopeType
from litestar.response.base import ASGIResponse
from litestar.types import ASGIApp, Receive, Scope, Send

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
REFRESH_S = 5.0
MACHINE_ID = Path("/etc/machine-id")


def mdns_name(device_id: str, machine_id_path: Path = MACHINE_ID) -> str:
    """`papo-XXXX.local`: 4 hex characters derived from the machine id (else the device id), stable across boots."""
    try:
        seed = machine_id_path.read_text(encoding="ascii").strip()
    except OSError:
        seed = ""
    digest = hashlib.sha256(f"papo:{seed or device_id}".encode()).hexdigest()
    return f"papo-{digest[:4]}.local"


def machine_addresses() -> set[str]:
    """Every address of this machine's interfaces (IPv4 and IPv6, scope ids dropped)."""
    found = set()
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            text = address.address.split("%")[0]
            try:
                found.add(str(ipaddress.ip_address(text)))
            except ValueError:
                continue  # a MAC address
    return found


def host_name(header: str) -> str:
    """The name or address of a Host header, without the port or IPv6 brackets, lower-case."""
    header = header.strip().lower().rstrip(".")
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    if header.count(":") == 1:
        header = header.split(":", 1)[0]
    return header.rstrip(".")


class HostAllowList:
    """Names the page answers to: fixed ones and the machine's addresses (looked at again on a miss)."""

    def __init__(
        self,
        names: Iterable[str],
        addresses: Callable[[], set[str]] = machine_addresses,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.names = frozenset(n.lower() for n in names) | LOOPBACK_NAMES
        self._addresses = addresses
        self._clock = clock
        self._known: set[str] = set()
        self._looked_at = float("-inf")
        self._lock = threading.Lock()

    def allows(self, header: str | None) -> bool:
        """Whether a request with this Host header may be served."""
        if not header:
            return False
        name = host_name(header)
        if name in self.names or name in self._known:
            return True
        with self._lock:
            if self._clock() - self._looked_at >= REFRESH_S:
                self._known = self._addresses()
                self._looked_at = self._clock()
            return name in self._known


class HostCheck:
    """Wraps the whole ASGI app (every path, routed or not): 400 to HTTP and websocket requests of unknown Hosts."""

    def __init__(self, app: ASGIApp, allow: HostAllowList) -> None:
        self.app = app
        self.allow = allow

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass allowed requests on; refuse the others."""
        if scope["type"] not in (ScopeType.HTTP, ScopeType.WEBSOCKET) or self.allow.allows(
            Headers.from_scope(scope).get("host")
        ):
            await self.app(scope, receive, send)
            return
        if scope["type"] == ScopeType.WEBSOCKET:
            await send({"type": "websocket.close", "code": 1008, "reason": "unknown host name"})
            return
        body: Any = b'{"status_code":400,"detail":"unknown host name: open the page by the device\'s name or address"}'
        await ASGIResponse(body=body, status_code=400, media_type="application/json")(scope, receive, send)

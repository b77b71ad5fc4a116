"""`papo-XXXX.local` on the home network: the page advertised by mDNS (`_http._tcp`, python-zeroconf).

On while the daemon runs, unless `server.mdns` is false or the page listens on loopback only. Any failure (no
multicast, the name taken) is logged and the daemon goes on without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from papo.settings import Settings
from papo.system.logging import fields
from papo.web.security.hosts import machine_addresses, mdns_name

log = logging.getLogger(__name__)
SERVICE_TYPE = "_http._tcp.local."


def wanted(settings: Settings) -> bool:
    """Whether the page should be advertised: mDNS on, a real port, not loopback only."""
    host = settings.server.host
    if not settings.server.mdns or settings.server.port == 0 or host in ("localhost", ""):
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


def lan_addresses() -> list[str]:
    """The machine's addresses others can reach (no loopback, no link-local IPv6 without a scope)."""
    found = []
    for text in sorted(machine_addresses()):
        address = ipaddress.ip_address(text)
        if not (address.is_loopback or address.is_link_local or address.is_unspecified):
            found.append(text)
    return found


class Advertiser:
    """Registers the page's mDNS service (in the background: the daemon never waits for the network) and removes it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.name: str | None = None  # set once advertised
        self._zeroconf: Any = None

    async def register(self) -> None:
        """Advertise the page; a failure is logged and leaves it unadvertised."""
        name = mdns_name(self.settings.device_id)
        port = self.settings.server.port
        try:
            from zeroconf import IPVersion
            from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

            addresses = lan_addresses()
            info = AsyncServiceInfo(
                SERVICE_TYPE,
                f"{name.removesuffix('.local')}.{SERVICE_TYPE}",
                port=port,
                parsed_addresses=addresses,
                server=f"{name}.",
                properties={"path": "/"},
            )
            ipv6 = any(":" in address for address in addresses)
            self._zeroconf = AsyncZeroconf(ip_version=IPVersion.All if ipv6 else IPVersion.V4Only)
            await self._zeroconf.async_register_service(info, allow_name_change=True)
        except Exception as exc:  # mDNS is a convenience: never stop the daemon for it
            log.warning("the page could not be advertised by mDNS", extra=fields(reason=str(exc), name=name))
            await self.close()
            return
        self.name = name
        log.info("advertised on the home network", extra=fields(name=name, port=port))

    async def close(self) -> None:
        """Stop advertising (goodbye packets sent); never raises."""
        zeroconf, self._zeroconf, self.name = self._zeroconf, None, None
        if zeroconf is None:
            return
        try:
            await zeroconf.async_unregister_all_services()
            await zeroconf.async_close()
        except Exception as exc:  # zeroconf may fail in many ways on the way out; never stop the daemon for it
            log.warning("mDNS did not close cleanly", extra=fields(reason=str(exc)))


@asynccontextmanager
async def advertised(settings: Settings) -> AsyncIterator[Advertiser | None]:
    """Advertise the page while in the block (registered in the background); None when it is not wanted."""
    if not wanted(settings):
        yield None
        return
    advertiser = Advertiser(settings)
    registering = asyncio.create_task(advertiser.register(), name="mdns")
    try:
        yield advertiser
    finally:
        if not registering.done():
            registering.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await registering
        await advertiser.close()

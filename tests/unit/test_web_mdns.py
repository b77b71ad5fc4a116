"""The page advertised as papo-XXXX.local (issue 13): when it is, and that a failure never stops the daemon."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from papo.settings import load_settings
from papo.web import mdns
from papo.web.security.hosts import mdns_name


def settings(**server: Any) -> Any:
    return load_settings(server={"mdns": True, **server})


def test_advertised_only_on_the_network_and_when_wanted() -> None:
    assert mdns.wanted(settings())  # the appliance default: 0.0.0.0
    assert mdns.wanted(settings(host="192.168.1.20"))
    assert not mdns.wanted(settings(host="127.0.0.1")) and not mdns.wanted(settings(host="::1"))
    assert not mdns.wanted(settings(host="localhost")) and not mdns.wanted(settings(mdns=False))


def test_the_name_is_stable_and_comes_from_the_machine_id(tmp_path: Path) -> None:
    machine_id = tmp_path / "machine-id"
    machine_id.write_text("0123456789abcdef0123456789abcdef\n")
    name = mdns_name("papo-local", machine_id)
    assert name == mdns_name("another-id", machine_id) and name.startswith("papo-") and name.endswith(".local")
    other = tmp_path / "other-id"
    other.write_text("fedcba9876543210fedcba9876543210\n")
    assert mdns_name("papo-local", other) != name
    assert mdns_name("dev-1", tmp_path / "absent") != mdns_name("dev-2", tmp_path / "absent")


def test_a_failure_is_logged_and_the_daemon_goes_on(monkeypatch: pytest.MonkeyPatch,
                                                    caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    import zeroconf.asyncio

    class Broken:
        def __init__(self, **_: Any) -> None:
            raise OSError("no multicast here")

    monkeypatch.setattr(zeroconf.asyncio, "AsyncZeroconf", Broken)

    async def run() -> str | None:
        async with mdns.advertised(settings()) as advertiser:
            assert advertiser is not None
            await asyncio.sleep(0)  # registration runs in the background; the daemon did not wait for it
            return advertiser.name

    with caplog.at_level(logging.WARNING):
        assert asyncio.run(run()) is None
    assert any(r.getMessage() == "the page could not be advertised by mDNS" for r in caplog.records)


def test_off_means_no_zeroconf_at_all(monkeypatch: pytest.MonkeyPatch) -> None:
    import zeroconf.asyncio

    monkeypatch.setattr(zeroconf.asyncio, "AsyncZeroconf", None)  # would fail if used

    async def run() -> object:
        async with mdns.advertised(settings(mdns=False)) as advertiser:
            return advertiser

    assert asyncio.run(run()) is None


def test_the_daemon_app_has_the_page_and_its_security(state_dir: Path) -> None:
    from papo.app import create_app

    app = create_app(load_settings(conversation={"enabled": False}, server={"mdns": False}))
    paths = {route.path for route in app.routes}
    assert {"/health", "/configurar", "/entrar", "/api/v1/session", "/static/{file_path:path}"} <= paths
    assert app.csrf_config is not None and app.state["accounts"].state_dir == state_dir
    app.state["ctx"].parts.close()

"""The daemon's web app on a temporary state directory (no audio, no conversation) and a logged-in owner client."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar.testing import TestClient

from papo.service import VoiceService
from papo.settings import load_settings
from papo.web.context import WebContext
from papo.web.security.accounts import Accounts
from papo.web.site import build_app
from papo.wiring import Wiring

OWNER_PASSWORD = "cavalo-bateria-grampo-42"
HOST = "127.0.0.1"  # "localhost" has no dot: Litestar's TestClient warns (an error in these tests)


def web_app(tmp_path: Path, **overrides: Any) -> Litestar:
    """The daemon's app (every route and security layer) on `tmp_path/state`, without the voice pipeline running.

    `overrides` are Settings values (e.g. `conversation={"language": "en"}`); the conversation and sync are off
    unless given. The parts are closed when the app shuts down (leave the TestClient's with-block).
    """
    state_dir = tmp_path / "state"
    state_dir.mkdir(exist_ok=True)
    values: dict[str, Any] = {"state_dir": state_dir, "conversation": {"enabled": False}, "server": {"mdns": False}}
    settings = load_settings(**(values | overrides))
    parts = Wiring(settings)
    store = parts.store()
    voice = VoiceService(settings, store)
    ctx = WebContext(
        settings=settings, store=store, voice=voice, scrubber=parts.scrubber(), link=None, parts=parts,
        state_dir=settings.state_dir, accounts=Accounts(settings.state_dir),
    )  # fmt: skip
    app = build_app(ctx)
    app.on_shutdown.append(parts.close)
    return app


def client(app: Litestar, **kwargs: Any) -> TestClient[Litestar]:
    """A TestClient that sends `Host: 127.0.0.1` (the page refuses unknown Host names)."""
    return TestClient(app, base_url=f"http://{HOST}", **kwargs)


def setup_code(app: Litestar) -> str:
    """A fresh setup code, issued through the same store `papo setup-code` uses."""
    accounts: Accounts = app.state["accounts"]
    return accounts.codes.issue().code


def csrf(client: TestClient[Litestar]) -> str:
    """The CSRF token of `client` (a GET first, so the cookie is set)."""
    if "csrftoken" not in client.cookies:
        client.get("/health")
    return str(client.cookies.get("csrftoken"))


def claim(client: TestClient[Litestar], password: str = OWNER_PASSWORD) -> None:
    """Claim the device with the real setup code and `password` (the client is then logged in)."""
    code = setup_code(client.app)
    response = client.post(
        "/api/v1/setup", json={"code": code, "password": password, "name": "Ana"}, headers={"x-csrftoken": csrf(client)}
    )
    assert response.status_code == 201, response.text


@contextmanager
def owner_client(app: Litestar) -> Iterator[TestClient[Litestar]]:
    """A client of `app` that claimed the device, is logged in as its owner, and sends the CSRF header."""
    with client(app) as owner:
        claim(owner)
        owner.headers["x-csrftoken"] = csrf(owner)
        response = owner.post("/api/v1/session", json={"password": OWNER_PASSWORD})
        assert response.status_code == 200, response.text
        yield owner

"""Attacks on the web page of the real daemon, over real HTTP (issue 13).

DNS rebinding (a foreign Host header), cross-site forms, requests without a session, reopening setup, and the
session cookie's flags. Every route is taken from the app's own route table, so a new route is attacked too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from support.browser import SETUP_PATH, Daemon, Owner, daemon_env, owner_session, running_daemon

pytestmark = pytest.mark.models  # `papo run` loads the speech models

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
# Open without a session: /health, static files, login; setup answers (403 once closed) before any session.
PUBLIC = re.compile(r"^/(health|entrar|configurar|static/.*|api/v1/setup(/.*)?|api/v1/session)$")
EVIL = "http://evil.example"


@dataclass(frozen=True)
class Route:
    """One method on one path of the app, with its path parameters filled in."""

    method: str
    template: str
    path: str

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


_SAMPLE = {"int": "1", "str": "x", "uuid": "00000000-0000-0000-0000-000000000001", "path": "app.css"}


def _filled(template: str) -> str:
    return re.sub(r"\{[^}:]+:([a-z]+)\}", lambda m: _SAMPLE.get(m.group(1), "x"), template)


def app_routes(directory: Path) -> list[Route]:
    """Every (method, path) the daemon's app serves, HEAD and OPTIONS included, read from its route table."""
    from support.web import web_app

    app = web_app(directory)
    try:
        routes = [Route(m, r.path, _filled(r.path)) for r in app.routes for m in sorted(getattr(r, "methods", ()))]
    finally:
        for hook in app.on_shutdown:
            hook()  # type: ignore[call-arg]
    assert any(r.template.startswith("/api/v1/") for r in routes), [str(r) for r in routes]
    return routes


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, shared_models: Path) -> Iterator[tuple[Daemon, list[Route]]]:
    """A daemon with no microphone and no voice, not yet claimed, and the routes of its app."""
    root = tmp_path_factory.mktemp("attacks")
    state = root / "state"
    state.mkdir()
    (state / "models").symlink_to(shared_models)
    env = daemon_env(state, {"PAPO_CONVERSATION__ENABLED": "false"})
    routes_dir = root / "routes"
    routes_dir.mkdir()
    routes = app_routes(routes_dir)
    with running_daemon(env) as daemon:
        yield daemon, routes
        daemon.stop()


def _request(client: httpx.Client, route: Route, **kwargs: object) -> httpx.Response:
    """Send `route` (for a stream, only its status and headers are read)."""
    with client.stream(route.method, route.path, **kwargs) as response:  # type: ignore[arg-type]
        return response


def test_before_an_owner_exists_only_setup_and_health_answer(site: tuple[Daemon, list[Route]]) -> None:
    daemon, routes = site
    wrong: list[str] = []
    with daemon.client() as client:
        for route in routes:
            if route.method == "OPTIONS" or PUBLIC.match(route.template):
                continue
            status = _request(client, route).status_code
            if status != 403:
                wrong.append(f"{route}: {status}")
    assert not wrong, "before an owner exists every route but setup and /health must answer 403:\n" + "\n".join(wrong)


def test_a_foreign_host_header_is_refused_on_every_route(site: tuple[Daemon, list[Route]]) -> None:
    daemon, routes = site
    wrong = []
    with httpx.Client(base_url=daemon.base, timeout=30) as client:
        for route in routes:
            for host in ("evil.example", f"evil.example:{daemon.port}", "papo-1234.local.evil.example", ""):
                status = _request(client, route, headers={"host": host}).status_code
                if not 400 <= status < 500:
                    wrong.append(f"{route} with Host {host!r}: {status}")
    assert not wrong, "a foreign Host must get a 4xx (DNS rebinding):\n" + "\n".join(wrong)


@pytest.fixture(scope="module")
def owner(site: tuple[Daemon, list[Route]]) -> Iterator[Owner]:
    """The device claimed and its owner logged in (the tests above ran before the claim)."""
    with owner_session(site[0]) as session:
        yield session


def test_the_session_cookie_is_httponly_and_samesite_strict(site: tuple[Daemon, list[Route]], owner: Owner) -> None:
    daemon, _ = site
    with daemon.client() as client:
        csrf = client.get("/entrar")
        assert csrf.status_code == 200
        token = client.cookies.get("csrftoken") or ""
        login = client.post(
            "/api/v1/session",
            json={"password": owner.password},
            headers={"x-csrftoken": token, "origin": daemon.origin},
        )
    assert login.status_code < 300, login.text
    cookies = login.headers.get_list("set-cookie")
    session = [c for c in cookies if not c.lower().startswith("csrftoken=")]
    assert session, cookies
    for cookie in session:
        flags = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert "httponly" in flags, cookie
        assert "samesite=strict" in flags, cookie
        assert "path=/" in flags, cookie


def test_security_headers_and_no_cors(site: tuple[Daemon, list[Route]], owner: Owner) -> None:
    with site[0].client() as anonymous:
        login = anonymous.get("/entrar", headers={"origin": EVIL})
    for path, response in [("/entrar", login)] + [
        (path, owner.request("GET", path, headers={"origin": EVIL}))
        for path in ("/", "/api/v1/status", "/static/app.css")
    ]:
        assert response.status_code == 200, (path, response.status_code)
        csp = response.headers.get("content-security-policy", "")
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, (path, csp)
        assert response.headers.get("x-content-type-options") == "nosniff", path
        assert not [h for h in response.headers if h.lower().startswith("access-control-")], (path, response.headers)


def test_a_cross_site_form_post_is_refused(site: tuple[Daemon, list[Route]], owner: Owner) -> None:
    daemon, routes = site
    unsafe = [r for r in routes if r.method in UNSAFE]
    assert unsafe
    wrong = []
    form = {"content-type": "application/x-www-form-urlencoded"}
    for route in unsafe:
        attacks = {
            "no token, Origin elsewhere": {"host": daemon.host, "origin": EVIL},
            "no token, no Origin": {"host": daemon.host},
            "the token, Origin elsewhere": {"host": daemon.host, "origin": EVIL, "x-csrftoken": owner.csrf},
            "the token, Sec-Fetch-Site cross-site": {
                "host": daemon.host, "x-csrftoken": owner.csrf, "sec-fetch-site": "cross-site",
            },
        }  # fmt: skip
        for name, headers in attacks.items():
            sent = headers | form  # with the session cookie
            status = _request(owner.client, route, headers=sent, content="o_que=sair&password=x").status_code
            if status != 403:
                wrong.append(f"{route} ({name}): {status}")
    assert not wrong, "a cross-site unsafe request must get 403:\n" + "\n".join(wrong)


def test_without_a_session_every_route_but_setup_login_and_health_is_closed(
    site: tuple[Daemon, list[Route]], owner: Owner
) -> None:
    daemon, routes = site
    wrong = []
    with daemon.client(follow_redirects=False) as client:
        client.get("/entrar")
        headers = {"x-csrftoken": client.cookies.get("csrftoken") or "", "origin": daemon.origin}
        for route in routes:
            if route.method == "OPTIONS" or PUBLIC.match(route.template):
                continue
            response = _request(client, route, headers=headers)
            status = response.status_code
            if route.template.startswith("/api/") or route.template.startswith("/schema"):
                ok = status == 401
            else:
                location = response.headers.get("location", "")
                ok = status == 401 or (status in (302, 303, 307) and location.startswith("/entrar"))
            if not ok:
                wrong.append(f"{route}: {status} {response.headers.get('location', '')}")
    assert not wrong, "without a session: 401 for the API, a redirect to /entrar for pages:\n" + "\n".join(wrong)


def test_setup_is_closed_once_an_owner_exists(site: tuple[Daemon, list[Route]], owner: Owner) -> None:
    daemon, _ = site
    with daemon.client(follow_redirects=False) as client:
        page = client.get(SETUP_PATH)
        assert page.status_code in (303, 403, 404, 410) or (page.status_code == 200 and "password" not in page.text)
        client.get("/entrar")
        headers = {"x-csrftoken": client.cookies.get("csrftoken") or "", "origin": daemon.origin}
        code = daemon.papo("setup-code")
        assert code.returncode != 0 or not re.search(r"\d{9}", code.stdout), code.stdout  # no code to give
        again = client.post("/api/v1/setup", json={"code": "271828182", "password": "outra-senha-bem-longa-9"},
                            headers=headers)  # fmt: skip
        assert again.status_code in (403, 404, 409, 410), (again.status_code, again.text)
    relogin = owner.request("POST", "/api/v1/session", json={"password": owner.password})
    assert relogin.status_code < 300  # the owner's password still works: setup changed nothing


def test_login_is_rate_limited_per_address(site: tuple[Daemon, list[Route]], owner: Owner) -> None:
    daemon, _ = site
    statuses = []
    with daemon.client() as client:
        client.get("/entrar")
        headers = {"x-csrftoken": client.cookies.get("csrftoken") or "", "origin": daemon.origin}
        for attempt in range(12):
            answer = client.post("/api/v1/session", json={"password": f"errada-{attempt}-senha"}, headers=headers)
            statuses.append(answer.status_code)
            if answer.status_code == 429:
                break
    assert statuses[0] in (400, 401, 403), statuses
    assert statuses[-1] == 429, statuses

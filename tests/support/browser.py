"""The real daemon (`papo run`) for the web page's real-tier tests, its owner over real HTTP, and Chromium.

`Daemon` runs the shipped program on a free loopback port with its own environment (state directory, config
file, the PulseAudio rig, the LLM endpoint), its log written to a file the tests read. `owner_session` takes
an unclaimed device through setup the way a person does (with the code Papo said, read from its journal line)
or logs in; `Owner` is the resulting httpx session (session cookie, CSRF header, Host localhost). `chromium`
is Debian's Chromium driven by Playwright (no browser download: PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD).

Heavy libraries (Playwright) are imported inside the fixtures, so loading this plugin costs nothing in the fast tier.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from support.cli import PAPO
from support.wait import wait_until

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package (`make test` installs it: APT_TEST_PACKAGES)
AXE = Path(__file__).with_name("vendor") / "axe.min.js"  # axe-core, vendored from npm (vendor/README.md)
OWNER_PASSWORD = "ipê-amarelo-na-varanda-27"  # long, not a common password
HOST = "localhost"  # a name of the device's Host allow-list
SETUP_PATH = "/configurar"
LOGIN_PATH = "/entrar"
WIDTHS = (360, 1280)  # a phone and a laptop


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Daemon:
    """A running `papo run` on loopback: its base URL, environment and log."""

    process: subprocess.Popen[bytes]
    port: int
    env: dict[str, str]
    log_path: Path

    @property
    def base(self) -> str:
        """The base URL, by address (requests say `Host: localhost` themselves)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        """The Host header a browser on this machine sends (a name of the allow-list, with the port)."""
        return f"{HOST}:{self.port}"

    @property
    def origin(self) -> str:
        """The page's origin as a browser on this machine sees it (a name of the allow-list)."""
        return f"http://{HOST}:{self.port}"

    @property
    def state_dir(self) -> Path:
        """The daemon's state directory."""
        return Path(self.env["PAPO_STATE_DIR"])

    def log(self) -> str:
        """What the daemon has logged so far."""
        return self.log_path.read_text(errors="replace")

    def client(self, **kwargs: Any) -> httpx.Client:
        """An httpx client on the daemon that says `Host: localhost:PORT`, as a browser would (no cookies yet)."""
        headers = {"host": self.host, **kwargs.pop("headers", {})}
        return httpx.Client(base_url=self.base, headers=headers, timeout=30, **kwargs)

    def health(self) -> dict[str, Any] | None:
        """/health's answer, or None while the daemon does not answer."""
        try:
            with self.client() as client:
                return dict(client.get("/health").json())
        except (httpx.HTTPError, ValueError):
            return None

    def wait_health(self, condition: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any]:
        """Poll /health until `condition` holds for its answer; return that answer."""
        last: list[dict[str, Any] | None] = [None]

        def satisfied() -> dict[str, Any] | None:
            if self.process.poll() is not None:
                raise AssertionError(f"the daemon exited ({self.process.returncode}): {self.log()[-3000:]}")
            last[0] = self.health()
            return last[0] if last[0] is not None and condition(last[0]) else None

        found = wait_until(satisfied, timeout, lambda: f"/health to satisfy the condition; last answer: {last[0]}", 0.2)
        assert found is not None
        return found

    def papo(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run another `papo` command on the daemon's state directory and configuration."""
        return subprocess.run(
            [str(PAPO), *args], capture_output=True, text=True, timeout=timeout, env=self.env, check=False
        )

    def stop(self) -> str:
        """Stop it as systemd does (SIGTERM would do too; Ctrl-C is what `papo run` documents) and return its log."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError(f"the daemon did not stop on Ctrl-C: {self.log()[-3000:]}") from None
        return self.log()


def daemon_env(state_dir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a daemon on `state_dir`: no system config, no state from elsewhere, `extra` on top."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPO_") and k not in ("STATE_DIRECTORY",)}
    env |= {"PAPO_STATE_DIR": str(state_dir), "PAPO_CONFIG": str(state_dir.parent / "papo.toml")}
    env["PAPO_SERVER__MDNS"] = "false"  # no advertising on the test machine's network
    return env | dict(extra or {})


RUNNING: list[Daemon] = []  # the daemons alive now: a failing test's report carries their logs (conftest)


@contextmanager
def running_daemon(env: Mapping[str, str], *args: str, ready_timeout: float = 120) -> Iterator[Daemon]:
    """Start `papo run ARGS` with `env` on a free port, wait for /health to answer, kill it on the way out."""

    def command(port: int) -> list[str]:
        return [str(PAPO), "run", "--host", "127.0.0.1", "--port", str(port), *args]  # loopback only, not the LAN

    with running_command(env, command, ready_timeout) as daemon:
        yield daemon


@contextmanager
def running_command(
    env: Mapping[str, str], command: Callable[[int], list[str]], ready_timeout: float = 120
) -> Iterator[Daemon]:
    """Start `command(port)` (a daemon serving /health on `port`) with `env`, wait for /health, kill it at the end."""
    port = free_port()
    state_dir = Path(env["PAPO_STATE_DIR"])
    state_dir.mkdir(parents=True, exist_ok=True)
    log_path = state_dir.parent / f"daemon-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command(port), stdout=log, stderr=subprocess.STDOUT, env=dict(env))
    daemon = Daemon(process, port, dict(env), log_path)
    RUNNING.append(daemon)
    try:
        daemon.wait_health(lambda h: "status" in h, ready_timeout)
        yield daemon
    finally:
        RUNNING.remove(daemon)
        if process.poll() is None:
            process.kill()
            process.wait()


@dataclass
class Owner:
    """The owner's logged-in HTTP session on the daemon: the cookies, and the CSRF header on every request."""

    daemon: Daemon
    client: httpx.Client
    password: str = OWNER_PASSWORD

    @property
    def csrf(self) -> str:
        """The CSRF token (the `csrftoken` cookie, echoed in the `x-csrftoken` header)."""
        return self.client.cookies.get("csrftoken") or ""

    def headers(self) -> dict[str, str]:
        """The headers a same-origin page request carries."""
        return {"host": self.daemon.host, "x-csrftoken": self.csrf, "origin": self.daemon.origin}

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A request in the owner's session (CSRF header and Origin on every one)."""
        headers = self.headers() | kwargs.pop("headers", {})
        return self.client.request(method, path, headers=headers, **kwargs)

    def confirm_password(self) -> None:
        """Re-enter the password (for erase-all, export, owner change, factory reset)."""
        answer = self.request("POST", "/api/v1/session/confirm", json={"password": self.password})
        assert answer.status_code < 300, answer.text


def spoken_code(daemon: Daemon) -> str | None:
    """The newest setup code the daemon issued, from its journal line (the code Papo said aloud), if any."""
    found = re.findall(r'setup code issued.*?\bcode="?(\d{9})\b', daemon.log())
    return found[-1] if found else None


def setup_code(daemon: Daemon) -> str:
    """A fresh setup code as `papo setup-code` prints it for a headless install (it replaces the spoken one)."""
    result = daemon.papo("setup-code")
    assert result.returncode == 0, result.stderr
    found = re.search(r"\b(\d{3} ?\d{3} ?\d{3})\b", result.stdout)
    assert found, result.stdout
    return found.group(1).replace(" ", "")


def claimed(daemon: Daemon) -> bool:
    """Whether the device has an owner (its setup page is closed)."""
    with daemon.client() as client:
        return client.get(SETUP_PATH).status_code == 403


@contextmanager
def owner_session(daemon: Daemon, password: str = OWNER_PASSWORD) -> Iterator[Owner]:
    """The owner's session: claims the device first if it has no owner (with the code it said), then logs in."""
    with daemon.client(follow_redirects=False) as client:
        owner = Owner(daemon, client, password)
        if client.get(SETUP_PATH).status_code == 200:  # opening the setup page says the code (and journals it)
            code = wait_until(lambda: spoken_code(daemon) or "", 30, "the setup code's journal line")
            answer = owner.request("POST", "/api/v1/setup", json={"code": code, "password": password})
            assert answer.status_code == 201, f"setup: {answer.status_code} {answer.text}"
        else:
            client.get(LOGIN_PATH)  # the CSRF cookie
            answer = owner.request("POST", "/api/v1/session", json={"password": password})
            assert answer.status_code == 200, f"login: {answer.status_code} {answer.text}"
        yield owner


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright (one per test module).

    Not one per session: while Playwright's sync API runs, its event loop counts as running in the main thread,
    and every later test calling asyncio.run() would fail.
    """
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")  # never fetch a browser: CI may be offline
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        raise RuntimeError("chromium is not installed; `make test` installs it (apt-get install chromium)")
    with sync_playwright() as playwright:
        # CI runs as root, and Chromium's sandbox cannot work from root (it drops privileges through a setuid
        # helper or user namespaces meant for an unprivileged user), so it refuses to start without --no-sandbox.
        # The pages are our own, served on loopback, so nothing untrusted runs in the unsandboxed renderer.
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        args.append(f"--host-resolver-rules=MAP {HOST} 127.0.0.1")  # the daemon listens on IPv4 loopback only
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            yield browser
        finally:
            browser.close()


def axe_violations(page: Page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict[str, Any]]:
    """Run axe-core in `page` (injected through the devtools protocol, so the page's CSP does not apply to it).

    Returns the violations of the given impacts, each with its rule id, impact, help and the offending nodes.
    """
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ': ' + n.failureSummary)}))"""
    )
    return [v for v in found if v["impact"] in impacts]

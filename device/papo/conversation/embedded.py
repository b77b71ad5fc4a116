"""The embedded LLM: llama.cpp's OpenAI-compatible server, a supervised child of papo on a random loopback port.

Each papo run makes an API key (`secrets.token_urlsafe`) and hands it to the server in its environment, which
only papo's user can read (`llama_cpp.server` reads `API_KEY` through pydantic-settings), never in argv. The
server binds 127.0.0.1 port 0; papo finds the port on the child's own listening socket (its inode among the
child's file descriptors in /proc) and accepts it only if it refuses a request without the key and lists our
model alias with it, so no other server, on any port, is ever taken for ours.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import Final

import httpx

from papo.conversation.llm import LlmUnavailableError
from papo.conversation.supervisor import Probing, Restarts, ServerStatus, Supervisor
from papo.errors import PapoError
from papo.models.manifest import load_manifest
from papo.models.provision import provision
from papo.settings import LlmSettings, Settings
from papo.system.cpu_budget import current_budget, threads_or_budget
from papo.system.logging import fields

log = logging.getLogger(__name__)

EMBEDDED = "embedded"
HTTP_OK, HTTP_UNAUTHORIZED = 200, 401
_KEY_ENV: Final = "API_KEY"  # llama_cpp.server's ServerSettings.api_key, read from the environment
_SERVER_ENV: Final = {"API_KEY", "HOST", "PORT", "CONFIG_FILE"}  # what llama_cpp.server would take over its argv
_PARENT_ENV: Final = "PAPO_PARENT_PID"
NICE: Final = 5  # below the voice path: papo's capture, VAD, speech-to-text and voice come first
_TCP_LISTEN: Final = "0A"
SERVER_MODULE: Final = "llama_cpp.server"
# The child's first lines: die with papo (PR_SET_PDEATHSIG = 1, sent when the forking thread ends, which is the
# supervisor's, alive until papo stops it), and not start at all if papo already died; yield the CPU to papo's
# voice path (nice); then run the module named by the first argument (llama_cpp.server) as `python -m` would.
_BOOT: Final = f"""\
import ctypes, os, runpy, signal, sys
if sys.platform == "linux":
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
if os.getppid() != int(os.environ.pop("{_PARENT_ENV}")):
    sys.exit("papo exited before its language model started")
os.nice({NICE})
del sys.argv[0]
runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
"""


def model_file(settings: Settings) -> Path:
    """Provision (join and verify by sha256) the embedded model of the settings; its GGUF path."""
    entry = load_manifest().get(settings.llm.model)
    if entry.kind != "llm":
        raise LlmUnavailableError(f"llm.model {entry.name!r} is a {entry.kind} model, not a language model")
    return provision(entry, settings.models_dir) / entry.files[0].name


def listening_port(pid: int) -> int | None:
    """The 127.0.0.1 TCP port that process `pid` itself listens on (a socket among its fds), or None."""
    try:
        descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return None
    inodes = set()
    for descriptor in descriptors:
        try:
            target = str(descriptor.readlink())
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    try:
        table = Path(f"/proc/{pid}/net/tcp").read_text(encoding="ascii").splitlines()[1:]
    except OSError:
        return None
    for row in table:
        columns = row.split()
        address, port = columns[1].split(":")
        host = socket.inet_ntoa(struct.pack("=I", int(address, 16)))
        if columns[3] == _TCP_LISTEN and columns[9] in inodes and host == "127.0.0.1":
            return int(port, 16)
    return None


def child_environment(api_key: str) -> dict[str, str]:
    """The server's environment: papo's, without what llama_cpp.server reads as settings, plus the key and our pid."""
    env = {name: value for name, value in os.environ.items() if name.upper() not in _SERVER_ENV}
    return env | {_KEY_ENV: api_key, _PARENT_ENV: str(os.getpid())}


class LlamaChild:
    """One server process: found on its own socket, verified by the key, probed, and stopped (TERM, then KILL).

    `arguments` are the module to run and its arguments (`[SERVER_MODULE, "--model", …]`).
    """

    def __init__(
        self, arguments: list[str], log_path: Path, api_key: str, alias: str, probe_timeout_s: float = 2.0
    ) -> None:
        with log_path.open("ab") as output:
            self._process = subprocess.Popen(
                [sys.executable, "-c", _BOOT, *arguments], stdin=subprocess.DEVNULL, stdout=output,
                stderr=subprocess.STDOUT, env=child_environment(api_key),
            )  # fmt: skip
        self._log_path = log_path
        self._key = api_key
        self._alias = alias
        self._probe_timeout_s = probe_timeout_s
        self._url: str | None = None
        self._stop_lock = threading.Lock()

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self._process.pid

    @property
    def url(self) -> str | None:
        """Its OpenAI-compatible base URL (…/v1), once verified."""
        return self._url

    def exit_code(self) -> int | None:
        """Its exit code once it exited."""
        return self._process.poll()

    def started(self) -> bool:
        """Whether it listens on its own loopback socket and proved to be ours; LlmUnavailableError if not ours."""
        code = self._process.poll()
        if code is not None:
            raise LlmUnavailableError(f"the embedded language model exited at start (code {code}): {self._tail()}")
        port = listening_port(self.pid)
        if port is None:
            return False
        url = f"http://127.0.0.1:{port}/v1"
        try:
            anonymous = httpx.get(f"{url}/models", timeout=self._probe_timeout_s, trust_env=False)
            keyed = httpx.get(f"{url}/models", headers=self.headers, timeout=30.0, trust_env=False)
        except httpx.HTTPError:
            return False  # listening, not answering yet
        if anonymous.status_code != HTTP_UNAUTHORIZED:
            raise LlmUnavailableError(
                f"the server of child {self.pid} answered HTTP {anonymous.status_code} without the API key: not ours"
            )
        if keyed.status_code != HTTP_OK or self._alias not in _model_ids(keyed):
            raise LlmUnavailableError(
                f"the server of child {self.pid} does not list the model {self._alias!r} (HTTP {keyed.status_code})"
            )
        self._url = url
        return True

    def answers(self) -> bool:
        """The cheap probe: a request without the key is refused at once (it never waits for a reply in progress)."""
        if self._url is None:
            return False
        try:
            response = httpx.get(f"{self._url}/models", timeout=self._probe_timeout_s, trust_env=False)
        except httpx.HTTPError:
            return False
        return response.status_code == HTTP_UNAUTHORIZED

    @property
    def headers(self) -> dict[str, str]:
        """The request headers that carry the key."""
        return {"Authorization": f"Bearer {self._key}"}

    def stop(self) -> None:
        """Stop it: SIGTERM, then SIGKILL after 5 s (idempotent, safe from any thread)."""
        with self._stop_lock:
            if self._process.poll() is not None:
                return
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def _tail(self) -> str:
        try:
            lines = self._log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(lines[-3:]) or "(no output)"


def _model_ids(response: httpx.Response) -> set[str]:
    try:
        return {str(model.get("id")) for model in response.json().get("data", [])}
    except (ValueError, AttributeError):
        return set()


class EmbeddedLlm:
    """The supervised embedded server: where it answers now, the run's API key, and how it is (for /health)."""

    def __init__(
        self, gguf: Path, settings: LlmSettings, log_path: Path, api_key: str | None = None,
        restarts: Restarts | None = None, probing: Probing | None = None,
    ) -> None:  # fmt: skip
        self.api_key = api_key or secrets.token_urlsafe(32)
        self.model = settings.model
        budget = current_budget()
        self._arguments = [
            SERVER_MODULE,
            "--model", str(gguf),
            "--model_alias", settings.model,
            "--host", "127.0.0.1",
            "--port", "0",
            "--n_ctx", str(settings.context_tokens),
            "--n_threads", str(threads_or_budget(settings.threads, budget.llm_threads)),
            "--n_threads_batch", str(threads_or_budget(settings.threads, budget.llm_batch_threads)),
            "--verbose", "False",
            # llama_cpp.server keeps the logits of every token of the context by default (context x vocabulary
            # floats: 1.2 GB for Qwen's 151,936 tokens at 2,048): only logprobs need them, papo asks for none
            "--logits_all", "False",
            # prompts are read 128 tokens at a time (default 512): the compute buffer holds a batch's logits
            # (batch x vocabulary floats), 37 MB less RSS, the same speed on 2 cores (bench/footprint.py)
            "--n_batch", "128", "--n_ubatch", "128",
            # no `--cache`: llama_cpp.server's RAM prompt cache bounds the llama.cpp state it keeps but not the
            # logits saved with each entry (context x vocabulary floats), so the server grew to 7.9 GB in
            # bench/turn.py; the server still reuses the prefix it evaluated last (the warmed-up fixed prompt)
        ]  # fmt: skip
        self._log_path = log_path
        self._supervisor = Supervisor("embedded language model", self._launch, restarts, probing)

    @property
    def status(self) -> ServerStatus:
        """The live state, restarts, pid and URL of the server."""
        return self._supervisor.status

    def start(self) -> None:
        """Start the server and wait until it is ready; LlmUnavailableError (while still retrying) if it is not."""
        try:
            self._supervisor.start()
        except PapoError as exc:
            raise LlmUnavailableError(str(exc)) from None
        log.info("embedded language model ready", extra=fields(pid=self.status.pid, url=self.status.url))

    def base_url(self) -> str:
        """The base URL of the ready server; LlmUnavailableError while it is starting, restarting or down."""
        child = self._supervisor.current()
        if child is None or child.url is None:
            raise LlmUnavailableError(f"the embedded language model is {self.status.state.value}")
        return child.url

    @property
    def pid(self) -> int | None:
        """The ready server's process id."""
        child = self._supervisor.current()
        return None if child is None else child.pid

    def stop(self) -> None:
        """Stop supervising and stop the server."""
        self._supervisor.stop()

    def _launch(self) -> LlamaChild:
        return LlamaChild(self._arguments, self._log_path, self.api_key, self.model)

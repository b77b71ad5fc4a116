"""The embedded LLM: llama.cpp's OpenAI-compatible server on loopback, a child process of papo."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path

import httpx

from papo.conversation.llm import LlmUnavailableError
from papo.models.manifest import load_manifest
from papo.models.provision import provision
from papo.settings import LlmSettings, Settings
from papo.system.logging import fields

log = logging.getLogger(__name__)

EMBEDDED = "embedded"


def model_file(settings: Settings) -> Path:
    """Provision (join and verify by sha256) the embedded model of the settings; its GGUF path."""
    entry = load_manifest().get(settings.llm.model)
    if entry.kind != "llm":
        raise LlmUnavailableError(f"llm.model {entry.name!r} is a {entry.kind} model, not a language model")
    return provision(entry, settings.models_dir) / entry.files[0].name


class EmbeddedLlmServer:
    """Starts llama.cpp's server on the loopback port of the settings and stops it with papo."""

    def __init__(self, gguf: Path, settings: LlmSettings, log_path: Path) -> None:
        self.base_url = f"http://127.0.0.1:{settings.port}/v1"
        self._command = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(gguf),
            "--model_alias", settings.model,
            "--host", "127.0.0.1",
            "--port", str(settings.port),
            "--n_ctx", str(settings.context_tokens),
            "--n_threads", str(settings.threads),
            "--verbose", "False",
        ]  # fmt: skip
        self._log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 120.0) -> None:
        """Start the server and wait until it answers; LlmUnavailableError with its log tail if it cannot."""
        started = time.monotonic()
        with self._log_path.open("ab") as output:
            self._process = subprocess.Popen(self._command, stdout=output, stderr=subprocess.STDOUT)
        while time.monotonic() - started < timeout_s:
            if self._process.poll() is not None:
                raise LlmUnavailableError(f"the embedded language model exited at start: {self._tail()}")
            try:
                if httpx.get(f"{self.base_url}/models", timeout=1.0, trust_env=False).status_code == 200:
                    log.info(
                        "embedded language model ready",
                        extra=fields(url=self.base_url, start_ms=round((time.monotonic() - started) * 1000)),
                    )
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise LlmUnavailableError(f"the embedded language model did not start within {timeout_s:g} s: {self._tail()}")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return None if self._process is None else self._process.pid

    def _tail(self) -> str:
        try:
            lines = self._log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(lines[-3:]) or "(no output)"

"""The review crew in a process of its own: CrewAI's memory is the daemon's only while turns are being reviewed.

CrewAI, LiteLLM and their dependencies take ~200 MB once imported and more once a crew has run, and Python never
gives a module back. The reviews happen in pauses of the conversation, so the crew lives in a child process that
the daemon starts when a review is due and that leaves after `idle_exit_s` without work. The daemon and the child
speak one JSON object per line over the child's stdin and stdout (what was said travels there, never in a log).
Run as `python -m papo.conversation.crew_worker MODEL MAX_TOKENS STORAGE_DIR IDLE_EXIT_S` (the API key comes in
the environment variable below).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any, Final

from papo.errors import PapoError
from papo.system.logging import fields

log = logging.getLogger(__name__)

KEY_ENV: Final = "PAPO_CREW_API_KEY"
READY: Final = "ready"
START_TIMEOUT_S: Final = 120.0  # importing CrewAI: ~5 s here, longer on a board


class CrewWorkerError(PapoError):
    """The review worker could not start, died or did not answer in time."""


class CrewWorker:
    """The daemon's side: starts the worker when needed, asks it for a review, stops it."""

    def __init__(self, model: str, api_key: str, max_tokens: int, storage_dir: str | None, idle_exit_s: float) -> None:
        self._arguments = [sys.executable, "-m", __name__, model, str(max_tokens), storage_dir or "", str(idle_exit_s)]
        self._env = os.environ | {KEY_ENV: api_key}
        self._process: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        """The worker's process id while it runs."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def start(self) -> float:
        """Start the worker (if it is not running) and wait until CrewAI is imported; the seconds it took."""
        with self._lock:
            return self._start()

    def review(self, base_url: str, utterance: str, reply: str, timeout_s: float) -> str:
        """The crew's raw answer for one exchange, from the worker (started first when it left or died)."""
        with self._lock:
            self._start()
            assert self._process is not None and self._process.stdin is not None
            request = {"base_url": base_url, "utterance": utterance, "reply": reply}
            try:
                self._process.stdin.write(json.dumps(request) + "\n")
                self._process.stdin.flush()
                answer = self._read(timeout_s)
            except (OSError, CrewWorkerError) as exc:
                self._stop()
                raise CrewWorkerError(f"the review worker failed: {exc}") from None
            if "error" in answer:
                raise CrewWorkerError(str(answer["error"]))
            return str(answer.get("raw", ""))

    def stop(self) -> None:
        """Ask the worker to leave (end of its input) and wait a little; kill it if it does not."""
        with self._lock:
            self._stop()

    def abort(self) -> None:
        """Kill the worker now, even one still importing CrewAI (the daemon is stopping); a later review starts one."""
        process = self._process  # not under the lock: a start in progress holds it until the worker answers
        if process is not None and process.poll() is None:
            process.kill()

    def _start(self) -> float:
        if self._process is not None and self._process.poll() is None:
            return 0.0
        self._stop()  # a worker that left when idle (or died): its pipes closed
        started = time.monotonic()
        self._process = subprocess.Popen(
            self._arguments, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None, text=True, env=self._env,
            start_new_session=True,  # a Ctrl-C in a terminal stops the daemon, which stops the worker
        )  # fmt: skip
        # reaps the worker when it leaves by itself (idle), so no zombie waits for the next review
        threading.Thread(target=self._process.wait, name="crew-worker-reaper", daemon=True).start()
        try:
            hello = self._read(START_TIMEOUT_S)
        except CrewWorkerError:
            self._stop()
            raise
        if hello.get("state") != READY:
            self._stop()
            raise CrewWorkerError(str(hello.get("error", "the review worker did not start")))
        seconds = time.monotonic() - started
        log.info("review worker started", extra=fields(pid=self._process.pid, load_ms=round(seconds * 1000)))
        return seconds

    def _read(self, timeout_s: float) -> dict[str, Any]:
        assert self._process is not None and self._process.stdout is not None
        ready, _, _ = select.select([self._process.stdout], [], [], timeout_s)
        if not ready:
            raise CrewWorkerError(f"no answer within {timeout_s:g} s")
        line = self._process.stdout.readline()
        if not line:
            raise CrewWorkerError(f"the review worker ended (exit status {self._process.wait(5)})")
        answer = json.loads(line)
        if not isinstance(answer, dict):
            raise CrewWorkerError("the review worker answered something else than an object")
        return answer

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            with contextlib.suppress(OSError):  # already gone
                process.stdin.close()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _send(out: IO[str], message: dict[str, Any]) -> None:
    out.write(json.dumps(message) + "\n")
    out.flush()


def serve(model: str, api_key: str, max_tokens: int, storage_dir: str | None, idle_exit_s: float) -> int:
    """The worker: import CrewAI, then review each request until the input ends or none came for `idle_exit_s`."""
    from papo.conversation.crew import build_review_crew
    from papo.conversation.offline import keep_offline

    out = sys.stdout
    sys.stdout = sys.stderr  # whatever the libraries print must not break the protocol
    keep_offline(storage_dir)
    for name in ("crewai", "crewai_core", "LiteLLM", "litellm"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        import crewai  # noqa: F401
    except Exception as exc:
        _send(out, {"state": "failed", "error": f"{type(exc).__name__}: {exc}"[:300]})
        return 1
    _send(out, {"state": READY})
    crew: Any = None
    crew_url: str | None = None
    while True:
        waiting, _, _ = select.select([sys.stdin], [], [], idle_exit_s)
        if not waiting:
            return 0  # no work for a while: give the memory back by leaving
        line = sys.stdin.readline()
        if not line:
            return 0
        try:
            request = json.loads(line)
            if request["base_url"] != crew_url:
                crew, crew_url = build_review_crew(request["base_url"], model, api_key, max_tokens), request["base_url"]
            output = crew.kickoff(inputs={"utterance": request["utterance"], "reply": request["reply"]})
            _send(out, {"raw": str(getattr(output, "raw", output))})
        except Exception as exc:  # one bad review must not end the worker
            _send(out, {"error": f"{type(exc).__name__}: {exc}"[:300]})


def main() -> int:
    """Entry point of the worker process."""
    model, max_tokens, storage_dir, idle_exit_s = sys.argv[1:5]
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if storage_dir:
        Path(storage_dir).mkdir(parents=True, exist_ok=True)
    return serve(model, os.environ.get(KEY_ENV, "none"), int(max_tokens), storage_dir or None, float(idle_exit_s))


if __name__ == "__main__":
    sys.exit(main())

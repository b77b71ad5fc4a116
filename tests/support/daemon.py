"""Run `papo run` (the daemon) as a process on a free port, wait on its /health, stop it with Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from support.cli import PAPO
from support.ports import free_port
from support.wait import wait_until


@contextmanager
def daemon(*args: str, cpus: set[int] | None = None) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Start `papo run ARGS` on a free port; yield the process and its base URL; kill it if it is still running.

    `cpus` confines it (and the children it starts) to those CPUs, as a constrained scope would.
    """
    port = free_port()
    process = subprocess.Popen(
        [str(PAPO), "run", "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=os.environ.copy(),
        preexec_fn=None if cpus is None else lambda: os.sched_setaffinity(0, cpus),
    )
    try:
        yield process, f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()  # reaps it and closes its output pipe (a test that failed mid-way left it open)


def health(base: str) -> dict[str, Any] | None:
    """The daemon's /health answer, or None if it does not answer (yet)."""
    try:
        with urllib.request.urlopen(f"{base}/health", timeout=2) as response:
            return dict(json.load(response))
    except OSError:
        return None


def wait_for_health(base: str, condition: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any]:
    """Poll /health until `condition` holds for its answer; return that answer."""
    last: list[dict[str, Any] | None] = [None]

    def satisfied() -> dict[str, Any] | None:
        last[0] = health(base)
        return last[0] if last[0] is not None and condition(last[0]) else None

    return wait_until(satisfied, timeout, lambda: f"/health to satisfy the condition; last answer: {last[0]}", 0.2)


def stop_daemon(process: subprocess.Popen[str]) -> str:
    """Stop the daemon with SIGINT (Ctrl-C), assert it exited 0, and return everything it printed."""
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output
    return output

"""Keeps a child server running: restarts it with backoff when it exits or stops answering, and says how it is."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from papo.errors import PapoError
from papo.retry import Backoff
from papo.system.logging import fields

log = logging.getLogger(__name__)


class ServerState(StrEnum):
    """What /health says of a supervised server."""

    STARTING = "starting"  # the first child is loading
    READY = "ready"  # a child answers and was verified to be ours
    RESTARTING = "restarting"  # a child died or hung; a new one is on its way
    DOWN = "down"  # stopped, or several starts in a row failed (still retried, at the longest delay)


@dataclass
class ServerStatus:
    """A live view of the supervised server (mutated by the supervisor, read by /health)."""

    state: ServerState = ServerState.STARTING
    restarts: int = 0
    pid: int | None = None
    url: str | None = None  # where the ready child answers
    retry_in_s: float | None = None  # the wait before the next start, while restarting or down
    detail: str = ""


@dataclass(frozen=True)
class Restarts:
    """Waits between restarts: `first_s` doubling up to `max_s`, back to `first_s` after `reset_after_s` healthy."""

    first_s: float = 1.0
    max_s: float = 60.0
    reset_after_s: float = 60.0
    down_after: int = 3  # consecutive failures before the state is `down` rather than `restarting`


@dataclass(frozen=True)
class Probing:
    """How a ready child is watched: exit checks every `poll_s`, an answer probe every `interval_s`."""

    poll_s: float = 0.25
    interval_s: float = 5.0
    misses: int = 2  # consecutive unanswered probes before the child counts as hung
    start_timeout_s: float = 120.0


class Child(Protocol):
    """One started server process, as the supervisor sees it."""

    @property
    def pid(self) -> int:
        """Its process id."""
        ...

    @property
    def url(self) -> str | None:
        """Where it answers, once started."""
        ...

    def exit_code(self) -> int | None:
        """Its exit code once it exited, else None."""
        ...

    def started(self) -> bool:
        """Whether it is up and verified to be ours; False while loading; PapoError if it never will be."""
        ...

    def answers(self) -> bool:
        """The periodic cheap probe: whether it still answers."""
        ...

    def stop(self) -> None:
        """Stop it (idempotent, safe from any thread)."""
        ...


class Supervisor:
    """Runs `launch()`'s children one at a time on its own thread, restarting them with backoff until `stop()`.

    Children are launched from the supervisor's thread only: it lives until `stop()`, so a child that dies with
    the thread that forked it (PR_SET_PDEATHSIG) dies with papo, never with a short-lived caller thread.
    """

    def __init__(
        self, name: str, launch: Callable[[], Child], restarts: Restarts | None = None, probing: Probing | None = None
    ) -> None:
        self.status = ServerStatus()
        self._name = name
        self._launch = launch
        self._restarts = restarts or Restarts()
        self._probing = probing or Probing()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._child: Child | None = None
        self._ready: Child | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout_s: float | None = None) -> None:
        """Start supervising and wait for the first child to be ready; PapoError (still retrying) if it is not."""
        self._thread = threading.Thread(target=self._run, name=f"supervise-{self._name}", daemon=True)
        self._thread.start()
        wait_s = self._probing.start_timeout_s + 5 if timeout_s is None else timeout_s
        with self._changed:
            self._changed.wait_for(lambda: self.status.state is not ServerState.STARTING, wait_s)
            if self.status.state is not ServerState.READY:
                raise PapoError(self.status.detail or f"not ready within {wait_s:g} s")

    def current(self) -> Child | None:
        """The ready child, or None while there is none."""
        with self._lock:
            return self._ready

    def stop(self, timeout_s: float = 15.0) -> None:
        """Stop supervising and stop the child; no child is started after this begins."""
        self._stopping.set()
        with self._lock:  # waits for a launch in progress: its child is then in `_child`
            child = self._child
        if child is not None:
            child.stop()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self._set(ServerState.DOWN, "stopped")

    def _run(self) -> None:
        policy, failures = self._restarts, 0
        backoff = Backoff(policy.max_s, policy.first_s)
        child = self._spawn()
        while child is not None:
            if self._await_start(child):
                ready_at = time.monotonic()
                self._set(ServerState.READY, "", ready=child)
                self._watch(child)
                if time.monotonic() - ready_at >= policy.reset_after_s:
                    failures = 0
                    backoff.reset()
            if self._stopping.is_set():
                child.stop()
                return
            failures += 1
            delay = backoff.next()
            state = ServerState.DOWN if failures >= policy.down_after else ServerState.RESTARTING
            self._set(state, self.status.detail, retry_in_s=delay)
            child.stop()
            log.warning(
                "supervised server failed; restarting it",
                extra=fields(server=self._name, reason=self.status.detail[:300], failures=failures, retry_in_s=delay),
            )
            if self._stopping.wait(delay):
                return
            child = self._spawn(restart=True)

    def _spawn(self, restart: bool = False) -> Child | None:
        with self._lock:
            if self._stopping.is_set():
                return None
            try:
                self._child = self._launch()
            except Exception as exc:  # a child that cannot even be launched goes through the same backoff
                self._child = _Unlaunched(f"cannot start: {exc}")
            if restart:
                self.status.restarts += 1
            self.status.pid = self._child.pid or None
            return self._child

    def _await_start(self, child: Child) -> bool:
        deadline = time.monotonic() + self._probing.start_timeout_s
        while not self._stopping.is_set():
            try:
                if child.started():
                    return True
            except Exception as exc:  # never ours, crashed, or the check itself broke: a failed start all the same
                self.status.detail = str(exc) or type(exc).__name__
                return False
            if time.monotonic() >= deadline:
                self.status.detail = f"did not start within {self._probing.start_timeout_s:g} s"
                return False
            self._stopping.wait(self._probing.poll_s)
        return False

    def _watch(self, child: Child) -> None:
        """Return once the child exited, stopped answering, or supervision stops."""
        probing = self._probing
        next_probe, misses = time.monotonic() + probing.interval_s, 0
        while not self._stopping.wait(probing.poll_s):
            code = child.exit_code()
            if code is not None:
                self.status.detail = f"exited with code {code}"
                return
            if time.monotonic() < next_probe:
                continue
            misses = 0 if self._answers(child) else misses + 1
            if misses >= probing.misses:
                self.status.detail = f"stopped answering ({misses} probes)"
                return
            next_probe = time.monotonic() + probing.interval_s

    @staticmethod
    def _answers(child: Child) -> bool:
        try:
            return child.answers()
        except Exception:  # a probe that breaks is a probe unanswered
            log.exception("probe failed")
            return False

    def _set(
        self, state: ServerState, detail: str, ready: Child | None = None, retry_in_s: float | None = None
    ) -> None:
        with self._changed:
            self._ready = ready
            self.status.state, self.status.detail, self.status.retry_in_s = state, detail, retry_in_s
            self.status.url = None if ready is None else ready.url
            self._changed.notify_all()


@dataclass
class _Unlaunched:
    """A child that could not even be started (its failure goes through the same backoff)."""

    reason: str
    pid: int = 0
    url: str | None = None

    def exit_code(self) -> int | None:
        return -1

    def started(self) -> bool:
        raise PapoError(self.reason)

    def answers(self) -> bool:
        return False

    def stop(self) -> None:
        return None

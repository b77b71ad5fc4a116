"""The supervisor of the embedded LLM (issue 12): restarts with backoff, its states, and a clean stop."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from papo.conversation.llm import LlmUnavailableError
from papo.conversation.supervisor import Probing, Restarts, ServerState, Supervisor
from papo.errors import PapoError
from support.wait import wait_until

FAST = Probing(poll_s=0.01, interval_s=0.05, misses=2, start_timeout_s=2.0)


@dataclass
class FakeChild:
    """A child whose start, death and answers the test decides."""

    pid: int
    fails_start: bool = False
    up: bool = True
    answering: bool = True
    code: int | None = None
    stops: int = 0
    url: str | None = None
    script: list[bool] = field(default_factory=list)  # answers to give first, in order
    probes: int = 0

    def exit_code(self) -> int | None:
        return self.code

    def started(self) -> bool:
        if self.fails_start:
            raise LlmUnavailableError(f"child {self.pid} crashed at start")
        if self.up:
            self.url = f"http://127.0.0.1:{10000 + self.pid}/v1"
        return self.up

    def answers(self) -> bool:
        self.probes += 1
        return self.script.pop(0) if self.script else self.answering

    def stop(self) -> None:
        self.stops += 1
        if self.code is None:
            self.code = -15

    def die(self) -> None:
        self.code = -9


@dataclass
class Factory:
    """Launches fake children, optionally failing the first `failing` starts; records when each was launched."""

    failing: int = 0
    children: list[FakeChild] = field(default_factory=list)
    gate: threading.Event | None = None  # when set, launching blocks until the gate opens
    launching: threading.Event = field(default_factory=threading.Event)

    def __call__(self) -> FakeChild:
        self.launching.set()
        if self.gate is not None:
            self.gate.wait(5)
        child = FakeChild(pid=len(self.children) + 1, fails_start=len(self.children) < self.failing)
        self.children.append(child)
        return child


@pytest.fixture
def supervisors() -> Iterator[list[Supervisor]]:
    made: list[Supervisor] = []
    yield made
    for supervisor in made:
        supervisor.stop()


def _supervisor(made: list[Supervisor], factory: Factory, restarts: Restarts | None = None) -> Supervisor:
    supervisor = Supervisor("fake", factory, restarts or Restarts(first_s=0.01, max_s=0.08), FAST)
    made.append(supervisor)
    return supervisor


def test_a_child_that_dies_is_restarted_and_ready_again(supervisors: list[Supervisor]) -> None:
    factory = Factory()
    supervisor = _supervisor(supervisors, factory)
    supervisor.start()
    assert (supervisor.status.state, supervisor.status.restarts, supervisor.status.pid) == (ServerState.READY, 0, 1)
    assert supervisor.current() is factory.children[0]
    assert supervisor.status.url == "http://127.0.0.1:10001/v1"
    factory.children[0].die()
    wait_until(lambda: supervisor.status.restarts == 1 and supervisor.status.state is ServerState.READY, 5,
               lambda: f"a restart (status {supervisor.status})")  # fmt: skip
    assert supervisor.current() is factory.children[1] and supervisor.status.pid == 2
    assert factory.children[0].stops >= 1  # the dead child was reaped


def test_a_child_that_stops_answering_is_replaced(supervisors: list[Supervisor]) -> None:
    factory = Factory()
    supervisor = _supervisor(supervisors, factory)
    supervisor.start()
    factory.children[0].answering = False  # alive, but hung
    wait_until(lambda: supervisor.status.restarts == 1 and supervisor.status.state is ServerState.READY, 5,
               lambda: f"a restart (status {supervisor.status})")  # fmt: skip
    assert factory.children[0].stops >= 1 and factory.children[0].code == -15  # the hung one was stopped


def test_only_consecutive_unanswered_probes_count(supervisors: list[Supervisor]) -> None:
    factory = Factory()
    supervisor = _supervisor(supervisors, factory)  # two misses in a row make a hung child
    supervisor.start()
    child = factory.children[0]
    child.script = [False, True] * 5
    wait_until(lambda: child.probes > 10, 5, "ten probes")
    assert (supervisor.status.state, supervisor.status.restarts, len(factory.children)) == (ServerState.READY, 0, 1)


def test_failed_starts_back_off_then_say_down_and_keep_trying(supervisors: list[Supervisor]) -> None:
    factory = Factory(failing=4)
    supervisor = _supervisor(supervisors, factory, Restarts(first_s=0.1, max_s=0.25, down_after=3))
    seen: list[tuple[ServerState, float | None]] = []

    def ready() -> bool:
        seen.append((supervisor.status.state, supervisor.status.retry_in_s))
        return supervisor.status.state is ServerState.READY

    with pytest.raises(PapoError, match="child 1 crashed at start"):
        supervisor.start()
    wait_until(ready, 10, lambda: f"the fifth child to be ready (status {supervisor.status})", poll_s=0.001)
    assert (ServerState.RESTARTING, 0.2) in seen and (ServerState.DOWN, 0.25) in seen  # doubled, then capped
    assert supervisor.status.restarts == 4 and len(factory.children) == 5
    assert supervisor.current() is factory.children[4] and supervisor.status.retry_in_s is None


def test_nothing_is_current_while_restarting(supervisors: list[Supervisor]) -> None:
    factory = Factory()
    supervisor = _supervisor(supervisors, factory, Restarts(first_s=30.0))
    supervisor.start()
    factory.children[0].die()
    wait_until(lambda: supervisor.status.state is ServerState.RESTARTING, 5, "the restarting state")
    assert supervisor.current() is None and supervisor.status.url is None
    assert "exited with code -9" in supervisor.status.detail


@pytest.mark.parametrize(("reset_after_s", "state", "delay"), [
    (0.0, ServerState.RESTARTING, 0.1),  # healthy long enough: the next failure is the first again
    (3600.0, ServerState.DOWN, 0.4),  # not: it is the third failure in a row
])  # fmt: skip
def test_a_healthy_period_resets_the_backoff(
    supervisors: list[Supervisor], reset_after_s: float, state: ServerState, delay: float
) -> None:
    factory = Factory(failing=2)
    policy = Restarts(first_s=0.1, max_s=30.0, reset_after_s=reset_after_s, down_after=3)
    supervisor = _supervisor(supervisors, factory, policy)
    with pytest.raises(PapoError):
        supervisor.start()
    wait_until(lambda: supervisor.status.state is ServerState.READY, 5, "the third child")
    factory.children[2].die()
    wait_until(lambda: supervisor.status.state is not ServerState.READY, 5, "the death to be noticed", poll_s=0.001)
    assert (supervisor.status.state, supervisor.status.retry_in_s) == (state, delay)


def test_stop_during_a_launch_leaves_no_child_running(supervisors: list[Supervisor]) -> None:
    gate = threading.Event()
    factory = Factory(gate=gate)
    supervisor = _supervisor(supervisors, factory)
    starter = threading.Thread(target=lambda: _start_quietly(supervisor))
    starter.start()
    stopper = threading.Thread(target=supervisor.stop)
    assert factory.launching.wait(5)
    stopper.start()
    wait_until(lambda: supervisor._stopping.is_set(), 5, "stop() to begin")
    gate.set()  # the launch completes while stop() waits for it
    stopper.join(5)
    starter.join(5)
    assert not stopper.is_alive() and not starter.is_alive()
    assert len(factory.children) == 1 and factory.children[0].stops >= 1 and factory.children[0].code == -15
    assert supervisor.status.state is ServerState.DOWN and supervisor.current() is None


def test_no_restart_after_stop(supervisors: list[Supervisor]) -> None:
    factory = Factory()
    supervisor = _supervisor(supervisors, factory)
    supervisor.start()
    supervisor.stop()
    factory.children[0].die()
    assert supervisor.status.state is ServerState.DOWN and supervisor.status.detail == "stopped"
    assert len(factory.children) == 1 and factory.children[0].stops >= 1


def test_a_launch_that_raises_is_a_failed_start(supervisors: list[Supervisor]) -> None:
    calls: list[int] = []

    def launch() -> FakeChild:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("no such file: python")
        return FakeChild(pid=len(calls))

    supervisor = Supervisor("fake", launch, Restarts(first_s=0.01), FAST)
    supervisors.append(supervisor)
    with pytest.raises(PapoError, match="cannot start: no such file"):
        supervisor.start()
    wait_until(lambda: supervisor.status.state is ServerState.READY, 5, "the second launch")
    assert supervisor.status.restarts == 1


def _start_quietly(supervisor: Supervisor) -> None:
    with contextlib.suppress(PapoError):
        supervisor.start(timeout_s=5)

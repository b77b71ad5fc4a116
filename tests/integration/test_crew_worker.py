"""The review crew's worker process: it reviews, leaves when idle (its memory with it), and comes back when needed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest

from papo.conversation.crew import parse_review
from papo.conversation.crew_worker import CrewWorker, CrewWorkerError
from support.scripted_llm import Script, ScriptedLlm, when_any_contains
from support.wait import wait_until

pytestmark = pytest.mark.slow  # worker processes importing CrewAI (~5 s each), a scripted endpoint over HTTP

FOUND = {"facts": ["A neta da pessoa se chama Júlia"], "concern": "loneliness"}


@pytest.fixture
def scripted() -> Iterator[ScriptedLlm]:
    llm = ScriptedLlm(rules=[when_any_contains("Memory keeper", Script(text=json.dumps(FOUND)))]).start()
    yield llm
    llm.close()


def test_the_worker_reviews_leaves_when_idle_and_is_started_again_for_the_next_review(scripted: ScriptedLlm) -> None:
    worker = CrewWorker("scripted", "key", 100, None, idle_exit_s=2.0)
    try:
        worker.start()
        first = worker.pid
        assert first is not None
        review = parse_review(worker.review(scripted.url, "Minha neta se chama Júlia.", "Que nome bonito!", 60))
        assert review is not None and review.facts == FOUND["facts"] and review.concern == "loneliness"
        wait_until(lambda: worker.pid is None, 30, "the idle worker to leave")  # no work for 2 s: it left
        assert not psutil.pid_exists(first)  # and was reaped: no zombie left behind
        again = parse_review(worker.review(scripted.url, "Eu moro sozinha.", "Estou aqui com você.", 60))
        assert again is not None and worker.pid not in (None, first)
        assert sum("Memory keeper" in json.dumps(r) for r in scripted.requests) == 2
    finally:
        worker.stop()
    assert worker.pid is None


def test_a_worker_killed_mid_review_is_an_error_and_the_next_review_gets_a_new_one() -> None:
    slow = Script(text=json.dumps(FOUND), first_token_delay_s=30)
    llm = ScriptedLlm(rules=[when_any_contains("Memory keeper", slow)]).start()
    worker = CrewWorker("scripted", "key", 100, None, idle_exit_s=60.0)
    try:
        worker.start()
        dying = worker.pid
        assert dying is not None
        with ThreadPoolExecutor(1) as pool:
            review = pool.submit(worker.review, llm.url, "Oi.", "Oi!", 120)
            wait_until(lambda: llm.requests, 60, "the worker's request to the endpoint")
            psutil.Process(dying).kill()
            with pytest.raises(CrewWorkerError, match="the review worker failed: the review worker ended"):
                review.result(timeout=30)
        assert worker.pid is None
        slow.first_token_delay_s = 0
        assert parse_review(worker.review(llm.url, "Oi.", "Oi!", 60)) is not None  # a new worker took it
        assert worker.pid not in (None, dying)
    finally:
        worker.stop()
        llm.close()


def test_closing_while_crewai_loads_abandons_the_load_instead_of_waiting_for_it(scripted: ScriptedLlm) -> None:
    from papo.conversation.crew import CrewRuntime, CrewState

    crew = CrewRuntime(lambda: scripted.url, "scripted", enabled=True)
    loader = crew.start_loading()
    assert loader is not None
    wait_until(lambda: crew.worker_pid is not None, 30, "the worker process to be started")
    importing = crew.worker_pid
    crew.close()  # the daemon stopping seconds after it started: CrewAI's import is still under way
    assert not loader.is_alive()
    assert crew.state is CrewState.FAILED  # waiting for the load would have left it READY
    assert crew.worker_pid is None and importing is not None and not psutil.pid_exists(importing)

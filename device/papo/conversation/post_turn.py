"""After a turn: remember what matters and let the review crew look for concerns, off the critical path."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Final

from papo.conversation.crew import CrewRuntime, CrewState
from papo.conversation.crew_worker import START_TIMEOUT_S
from papo.conversation.memory import MemoryStore
from papo.conversation.turn import TurnContext, TurnOutcome
from papo.errors import PapoError
from papo.store import ErasedTurnError, EventSource, MemoryKind, Store
from papo.system.logging import fields
from papo.system.memory import give_back_memory

log = logging.getLogger(__name__)

CREW_LOAD_WAIT_S: Final = START_TIMEOUT_S + 10  # the worker's own start limit, then the rule

_PERSONAL = re.compile(
    r"\b(meu|minha|meus|minhas|me chamo|tenho|moro|gosto|my|i have|i live|i like|i'm called|my name)\b", re.IGNORECASE
)


def worth_remembering(text: str) -> bool:
    """Without the crew: keep the person's own statements about themselves (not questions, not small talk)."""
    return "?" not in text and len(text.split()) >= 4 and _PERSONAL.search(text) is not None


class PostTurnReviewer:
    """Runs one turn's slower work on its own thread: the crew's review (once the conversation pauses) or a rule."""

    def __init__(
        self,
        store: Store,
        memory: Callable[[], MemoryStore | None],
        crew: CrewRuntime,
        idle_s: Callable[[], float],
    ) -> None:
        self._store = store
        self._memory = memory
        self._crew = crew
        self._idle_s = idle_s
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="post-turn")
        self._closing = threading.Event()
        self._last_activity = time.monotonic()
        self._pending = 0  # reviews queued or running; touched on the caller's thread and the pool's, under _lock
        self._lock = threading.Lock()

    def touch(self) -> None:
        """The conversation is active now (the crew waits for a pause since it shares the LLM with replies)."""
        self._last_activity = time.monotonic()

    def submit(self, turn: TurnContext, outcome: TurnOutcome) -> Future[None]:
        """Queue the review of one turn; it never delays the next reply."""
        with self._lock:
            self._pending += 1
        return self._pool.submit(self._review_then_rest, turn, outcome)

    def close(self) -> None:
        """Finish queued reviews without waiting for a pause."""
        self._closing.set()
        self._pool.shutdown(wait=True)

    def _wait_for_a_pause(self) -> None:
        while not self._closing.is_set():
            remaining = self._last_activity + self._idle_s() - time.monotonic()
            if remaining <= 0:
                return
            self._closing.wait(remaining)

    def _review_then_rest(self, turn: TurnContext, outcome: TurnOutcome) -> None:
        try:
            self._review(turn, outcome)
        finally:
            with self._lock:
                self._pending -= 1
                resting = self._pending == 0 and not self._closing.is_set()
            if resting and self._crew.state is CrewState.READY:  # crew reviews wait for a pause: idle now
                give_back_memory("reviews done")

    def _review(self, turn: TurnContext, outcome: TurnOutcome) -> None:
        # a turn heard while CrewAI still loads (just after boot) is reviewed like any other, not by the rule
        self._crew.wait_until_loaded(CREW_LOAD_WAIT_S)
        if self._crew.state is CrewState.READY:
            self._wait_for_a_pause()
        try:
            review = self._crew.review(turn.heard.text, outcome.reply or "")
        except Exception as exc:  # the crew is best effort; the rules already ran
            log.warning("post-turn review failed", extra=fields(reason=str(exc)[:200]))
            review = None
        try:
            if review is not None:
                for fact in review.facts:
                    self._remember(fact, MemoryKind.FACT, turn)
                if review.concern is not None and turn.sign is None and review.severity is not None:
                    self._store.wellbeing.add(review.concern, review.severity, turn.heard.text[:200], EventSource.CREW,
                                              turn.heard.turn_id)  # fmt: skip
            elif worth_remembering(turn.heard.text):
                self._remember(turn.heard.text, MemoryKind.SAID, turn)
        except ErasedTurnError:
            log.info("post-turn work dropped: the turn was erased meanwhile")
        except PapoError as exc:
            log.error("post-turn work failed", extra=fields(reason=str(exc)))

    def _remember(self, text: str, kind: MemoryKind, turn: TurnContext) -> None:
        memory = self._memory()
        if memory is None:
            self._store.memories.add(text, kind, turn.heard.turn_id)  # indexed when the memory store opens
            return
        memory.remember(text, kind, turn.heard.turn_id)
        log.info("remembered", extra=fields(kind=kind.value, chars=len(text)))

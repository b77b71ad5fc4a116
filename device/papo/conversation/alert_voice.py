"""Papo's voice of its caregiver alerts: says what their state calls for, when it calls for it, on its own thread.

Updates arrive on the sync agent's worker (`update`), the companion opens cases and ends check-ins (`opened`,
`fine`), and the clock brings the offline phrase after a wait and the check-ins; all of it is queued here and
said by one thread through the companion's speech output (one utterance at a time, after any reply in progress).
A provisional sentence still waiting (the check-in, "Estou avisando...") is dropped when a later one about the
same alert comes: what is said is the latest truth, not a backlog.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from papo.conversation.alert_state import AlertCases, Say
from papo.system.logging import fields
from papo_sync.protocol import AlertUpdate

log = logging.getLogger(__name__)

ALERT_WAIT_S = 20.0
"""How long after a high or critical event Papo waits for the cloud's first word before saying it cannot warn
anyone (the cloud answers within a second or two when it is reachable: docs/benchmarks.md)."""
_IDLE_S = 60.0  # the longest the thread sleeps with nothing due (it is woken for anything new)


class AlertVoice:
    """Says the sentences the open caregiver alerts call for; `link_up` tells whether the cloud can be reached now.

    `say` speaks one text and returns once it was played (SpeechOutput.say); `clock` is monotonic seconds. With
    `autostart` the thread starts with the first alert; without, a test calls `step()` itself.
    """

    def __init__(
        self,
        say: Callable[[str], object],
        cases: AlertCases,
        clock: Callable[[], float] = time.monotonic,
        autostart: bool = True,
    ) -> None:
        self._say = say
        self._cases = cases
        self._clock = clock
        self._autostart = autostart
        self._link_up: Callable[[], bool] | None = None
        self._lock = threading.Lock()
        self._queue: list[Say] = []
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def connect(self, link_up: Callable[[], bool]) -> None:
        """Use `link_up` to know whether the cloud is reachable (the sync agent's connection); without it, never."""
        self._link_up = link_up

    def online(self) -> bool:
        """Whether a cloud link is configured and connected now (else nobody can be warned at this moment)."""
        try:
            return self._link_up is not None and bool(self._link_up())
        except Exception:  # a link that cannot say is a link that cannot be relied on
            return False

    @property
    def checking_in(self) -> bool:
        """Whether some alert is open, unacknowledged, and the person has not said «estou bem»."""
        with self._lock:
            return self._cases.checking_in

    def opened(self, msg_id: str | None, offline_said: bool, wait: bool = True) -> None:
        """A high or critical event was recorded as `msg_id` (None: not stored); follow its alert from now on.

        `offline_said`: the first answer already said nobody can be warned; `wait`: the link was up, so the cloud's
        first word is expected within ALERT_WAIT_S (else the offline phrase).
        """
        with self._lock:
            self._enqueue(self._cases.open(msg_id, self._clock(), offline_said, wait))
        log.info("alert followed", extra=fields(msg_id=msg_id, offline_said=offline_said))
        self._start()
        self._wake.set()

    def update(self, update: AlertUpdate) -> None:
        """A signed alert update that passed the fleet gate (called on the sync agent's worker thread)."""
        with self._lock:
            owed = self._cases.update(update, self._clock())
            self._enqueue(owed)
        log.info(
            "alert update heard",
            extra=fields(msg_id=update.msg_id, seq=update.seq, state=update.state.value, sentences=len(owed)),
        )
        self._wake.set()

    def fine(self) -> list[str]:
        """The person said «estou bem»: end the check-ins (and drop one waiting); the msg_ids of the alerts closed."""
        with self._lock:
            closed = self._cases.fine()
            self._queue = [s for s in self._queue if not (s.provisional and s.msg_id in closed)]
        return closed

    def step(self) -> int:
        """Queue what the clock calls for, then say everything queued; how many sentences were said."""
        with self._lock:
            self._enqueue(self._cases.due(self._clock()))
            owed, self._queue = self._queue, []
        said = 0
        for sentence in owed:
            try:
                self._say(sentence.text)
                said += 1
                log.info("alert sentence said", extra=fields(msg_id=sentence.msg_id, kind=sentence.kind))
            except Exception as exc:  # a speaker gone: the alert still goes on in the cloud; log, never the words
                log.error("alert sentence not said", extra=fields(msg_id=sentence.msg_id, reason=str(exc)[:200]))
        return said

    def _enqueue(self, owed: list[Say]) -> None:
        """Queue `owed` (lock held): a newer sentence about an alert drops the provisional ones still waiting."""
        for sentence in owed:
            self._queue = [s for s in self._queue if not (s.provisional and s.msg_id == sentence.msg_id)]
            self._queue.append(sentence)

    def _start(self) -> None:
        if not self._autostart or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="alert-voice", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.step()
            with self._lock:
                due = self._cases.next_due()
            wait = _IDLE_S if due is None else max(0.0, min(_IDLE_S, due - self._clock()))
            self._wake.wait(wait)
            self._wake.clear()

    def close(self) -> None:
        """Stop the thread (what is still queued is not said)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

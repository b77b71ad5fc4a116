"""The CrewAI layer (the only importer of crewai, in the review worker process): the post-turn review crew."""

from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from papo.conversation.crew_worker import CrewWorker, CrewWorkerError
from papo.conversation.llm import BaseUrl, LlmUnavailableError, locate
from papo.store import Severity
from papo.system.logging import fields

log = logging.getLogger(__name__)

_REVIEW_TASK = (
    "The person said to the companion: «{utterance}»\nThe companion answered: «{reply}»\n"
    "1. List the lasting personal facts the person told (names of family, pets, doctors, appointments, "
    "likes, health), each as a short sentence in the person's language. Nothing else.\n"
    "2. Say whether the person shows loneliness, sadness, distress, a fall, illness or an emergency.\n"
    'Answer with JSON only: {{"facts": ["..."], "concern": "none|loneliness|sadness|distress|fall|unwell|emergency"}}'
)
_CONCERN_SEVERITY = {
    "loneliness": Severity.LOW, "sadness": Severity.LOW, "distress": Severity.MEDIUM, "fall": Severity.HIGH,
    "unwell": Severity.HIGH, "emergency": Severity.CRITICAL,
}  # fmt: skip
WORKER_IDLE_EXIT_S = 60.0  # the worker leaves (its memory with it) after this long without a review
REVIEW_TIMEOUT_S = 180.0  # one review on the embedded model takes 5-30 s on 2 cores


class CrewState(StrEnum):
    """Whether the CrewAI layer can be used yet."""

    DISABLED = "disabled"
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True)
class Review:
    """What the post-turn crew found: facts to remember and a concern, if any."""

    facts: list[str]
    concern: str | None

    @property
    def severity(self) -> Severity | None:
        """The severity of the concern."""
        return None if self.concern is None else _CONCERN_SEVERITY.get(self.concern, Severity.LOW)


class CrewRuntime:
    """The review crew, run by a worker process (crew_worker.py) started off the critical path; reviews turns."""

    def __init__(
        self, base_url: BaseUrl, model: str, enabled: bool, max_tokens: int = 200, storage_dir: str | None = None,
        api_key: str | None = None,
    ) -> None:  # fmt: skip
        self.state = CrewState.LOADING if enabled else CrewState.DISABLED
        self.detail = ""
        self.load_ms: float | None = None
        self._locate = locate(base_url)
        # LiteLLM wants a key even for an endpoint without keys
        self._worker = CrewWorker(model, api_key or "none", max_tokens, storage_dir, WORKER_IDLE_EXIT_S)
        self._loader: threading.Thread | None = None
        self._abandoned = False  # set by abandon_load() during a load
        self._settled = threading.Event()  # the load ended, ready or failed

    @property
    def worker_pid(self) -> int | None:
        """The review worker's process id while it runs."""
        return self._worker.pid

    def start_loading(self) -> threading.Thread | None:
        """Start the review worker in a background thread (importing CrewAI takes seconds); None when disabled."""
        if self.state is CrewState.DISABLED:
            return None
        self._loader = threading.Thread(target=self.load, name="crewai-loader", daemon=True)
        self._loader.start()
        return self._loader

    def wait_until_loaded(self, timeout_s: float) -> None:
        """Wait (up to `timeout_s`) for a load in progress to end, ready or failed; at once if none was started."""
        if self._loader is not None and self.state is CrewState.LOADING:
            self._settled.wait(timeout_s)

    def abandon_load(self, timeout_s: float = 10.0) -> None:
        """Stop a load in progress (the daemon is stopping: it must not wait for CrewAI's import)."""
        loader = self._loader
        if loader is not None and loader.is_alive():
            self._abandoned = True
            self._worker.abort()
            loader.join(timeout_s)

    def close(self) -> None:
        """Abandon a load in progress, then stop the worker."""
        self.abandon_load()
        self._worker.stop()

    def load(self) -> None:
        """Start the worker once (CrewAI imported in it) to know the crew can run; it leaves when idle."""
        try:
            self._load()
        finally:
            self._settled.set()

    def _load(self) -> None:
        try:
            seconds = self._worker.start()
        except CrewWorkerError as exc:  # CrewAI failing must leave the companion answering without it
            self.state, self.detail = CrewState.FAILED, str(exc)[:300]
            if self._abandoned:
                log.info("CrewAI load abandoned: the companion is stopping")
            else:
                log.error("CrewAI could not be loaded; answering without it", extra=fields(reason=self.detail))
            return
        self.load_ms = seconds * 1000
        self.state = CrewState.READY
        log.info("CrewAI ready", extra=fields(load_ms=round(self.load_ms), worker_pid=self._worker.pid))

    def review(self, utterance: str, reply: str) -> Review | None:
        """Ask the crew for facts and concerns in one exchange; None if it is not ready or answered nonsense.

        CrewWorkerError when the worker failed (the turn goes without a review; the next one starts a new worker).
        """
        if self.state is not CrewState.READY:
            return None
        try:
            base_url = self._locate()
        except LlmUnavailableError:
            return None  # the embedded model is restarting: this turn goes without a review
        return parse_review(self._worker.review(base_url, utterance, reply, REVIEW_TIMEOUT_S))


def build_review_crew(base_url: str, model: str, api_key: str, max_tokens: int) -> Any:
    """The one-agent CrewAI crew that reviews an exchange (built in the worker process: it imports CrewAI)."""
    from crewai import LLM, Agent, Crew, Process, Task

    llm = LLM(model=f"openai/{model}", base_url=base_url, api_key=api_key, temperature=0.0, max_tokens=max_tokens)
    keeper = Agent(
        role="Memory keeper and wellbeing watcher of a companion device",
        goal="Notice what is worth remembering about the person and whether they need care",
        backstory="You listen to an older person's conversations and take careful, short notes.",
        llm=llm,
        verbose=False,
        allow_delegation=False,
        max_iter=1,
    )
    task = Task(description=_REVIEW_TASK, expected_output="one JSON object", agent=keeper)
    return Crew(agents=[keeper], tasks=[task], process=Process.sequential, verbose=False)


def parse_review(text: str) -> Review | None:
    """Read the crew's JSON answer leniently (small models wrap it in prose or code fences)."""
    match = re.search(r"\{.*\}", text, re.DOTALL)
    if match is None:
        return None
    try:
        data = json.loads(match.group(0))
    except json.JSONDecodeError:
        try:
            from json_repair import repair_json

            data = json.loads(repair_json(match.group(0)))
        except (ImportError, ValueError):
            return None
    if not isinstance(data, dict):
        return None
    raw_facts = data.get("facts", [])
    facts = [str(f).strip() for f in raw_facts if isinstance(f, str | int | float) and str(f).strip()][:5]
    concern = str(data.get("concern", "none")).strip().lower()
    return Review(
        facts=[f for f in facts if 3 <= len(f) <= 200], concern=concern if concern in _CONCERN_SEVERITY else None
    )

"""One turn of conversation: wellbeing and reminder rules, memory recall, a streamed spoken reply, post-turn work."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from papo.conversation.anticipation import Anticipator, PreparedReply
from papo.conversation.crew import CrewRuntime, CrewState
from papo.conversation.llm import ChatClient, ChatMessage, LlmUnavailableError
from papo.conversation.memory import MemoryStore
from papo.conversation.phrases import FALLBACK, WARMING_UP, reminder_confirmation, reminder_due, urgent_reply
from papo.conversation.prompt import PastTurn, build_messages
from papo.conversation.reminders import ReminderRequest, parse_reminder
from papo.conversation.sentences import sentences
from papo.conversation.wellbeing import WellbeingSign, assess
from papo.errors import PapoError
from papo.settings import ConversationSettings, Settings
from papo.speech.tts import CachedVoice, Speaker, Speech
from papo.store.db import TurnStore, companion_turn
from papo.store.records import CompanionRecords, utc_now
from papo.system.logging import fields

log = logging.getLogger(__name__)

_PERSONAL = re.compile(
    r"\b(meu|minha|meus|minhas|me chamo|tenho|moro|gosto|my|i have|i live|i like|i'm called|my name)\b", re.IGNORECASE
)


@dataclass(frozen=True)
class HeardTurn:
    """What the person said, as stored, and when their speech ended."""

    text: str
    source: str
    turn_id: str | None = None
    conversation_id: str | None = None
    eos_monotonic: float | None = None


@dataclass
class TurnOutcome:
    """What the companion did with one turn."""

    reply: str | None = None
    wellbeing: WellbeingSign | None = None
    reminder: ReminderRequest | None = None
    first_token_ms: float | None = None
    first_audio_ms: float | None = None
    interrupted: bool = False
    fallback: bool = False
    spoken_sentences: list[str] = field(default_factory=list)


@dataclass
class _Turn:
    heard: HeardTurn
    started: float
    sign: WellbeingSign | None
    reminder: ReminderRequest | None


class Companion:
    """Answers aloud, remembers, reminds and watches over; never fails a turn because the LLM did."""

    def __init__(
        self,
        settings: Settings,
        store: TurnStore,
        speaker: Speaker,
        voice: CachedVoice,
        llm: ChatClient | None,
        memory: MemoryStore | None,
        crew: CrewRuntime,
    ) -> None:
        self._settings = settings
        self._conversation = settings.conversation
        self._language = settings.conversation.language
        self._store = store
        self.records = CompanionRecords(store.engine)
        self._speaker = speaker
        self.voice = voice
        self.llm = llm
        self.memory = memory
        self.crew = crew
        self._interrupted = threading.Event()
        self._speaking = threading.Event()
        self._speak_lock = threading.Lock()
        self._post_turn = ThreadPoolExecutor(max_workers=1, thread_name_prefix="post-turn")
        self._last_reply_at: float | None = None
        self._last_activity = time.monotonic()
        self._closing = threading.Event()
        self._last_conversation_id: str | None = None
        self.anticipator = Anticipator(
            voice, lambda: self.llm, self._anticipated_messages, settings.llm.max_tokens, settings.llm.temperature
        )

    # -- what the service calls
    def addressed(self, text: str) -> bool:
        """Whether `text` is meant for the companion: a wake word, or a follow-up soon after its last reply."""
        words = self._conversation.wake_words
        if not words:
            return True
        if self._last_reply_at is not None and time.monotonic() - self._last_reply_at <= self._conversation.follow_up_s:
            return True
        lowered = text.lower()
        return any(re.search(rf"\b{re.escape(w.lower())}\b", lowered) for w in words)

    def respond(self, heard: HeardTurn, addressed: bool = True) -> TurnOutcome:
        """Handle one utterance: rules always, and a spoken reply when addressed (or urgent)."""
        started = heard.eos_monotonic if heard.eos_monotonic is not None else time.monotonic()
        if not heard.text.strip() or not re.search(r"\w{2,}", heard.text):
            return TurnOutcome()
        sign = assess(heard.text)
        if sign is not None:
            self.records.add_wellbeing(sign.kind, sign.severity.value, sign.evidence, "rules", heard.turn_id)
            log.warning("wellbeing sign", extra=fields(kind=sign.kind, severity=sign.severity.value))
        urgent = sign is not None and urgent_reply(sign, self._language) is not None
        if not (addressed or urgent):
            return TurnOutcome(wellbeing=sign)
        self._last_activity = time.monotonic()
        self._last_conversation_id = heard.conversation_id or self._last_conversation_id
        reminder = parse_reminder(heard.text, datetime.now().astimezone()) if addressed else None
        self._interrupted.clear()
        outcome: TurnOutcome = self.crew.run_turn(self, _Turn(heard, started, sign, reminder))
        return outcome

    def apply_settings(self, conversation: ConversationSettings) -> None:
        """Take new conversation settings at once (wake words, follow-up window, memory and history sizes)."""
        self._conversation = conversation.model_copy(
            update={"language": self._language, "crew": self._conversation.crew, "enabled": self._conversation.enabled}
        )

    def interrupt(self) -> bool:
        """Barge-in: stop speaking now; True if something was being said."""
        if not self._speaking.is_set():
            return False
        self._interrupted.set()
        self._speaker.stop()
        log.info("reply interrupted by the person")
        return True

    @property
    def speaking(self) -> bool:
        """Whether a reply is being played."""
        return self._speaking.is_set()

    def speak(self, text: str) -> float:
        """Say `text` (sentence by sentence) and wait until it was played; seconds of audio."""
        seconds = 0.0
        with self._speak_lock:
            self._speaking.set()
            try:
                for sentence in sentences([text]):
                    speech, _ = self.voice.speak(sentence)
                    seconds += speech.seconds
                    self._speaker.play(speech.samples, speech.rate)
                self._speaker.wait(timeout=max(30.0, seconds * 2))
            finally:
                self._speaking.clear()
        return seconds

    def speak_due_reminders(self) -> int:
        """Speak every reminder that is due and mark it spoken; how many."""
        due = self.records.due_reminders(utc_now())
        for reminder in due:
            log.info("reminder due", extra=fields(what=reminder.what))
            self.speak(reminder_due(reminder.what, self._language))
            self.records.mark_spoken(reminder.id)
        return len(due)

    def close(self) -> None:
        """Finish post-turn work (without waiting for a pause) and release the LLM client."""
        self._closing.set()
        self.anticipator.close()
        self._post_turn.shutdown(wait=True)
        self.crew.close()
        if self.llm is not None:
            self.llm.close()

    # -- the three steps of a turn (run by the CrewAI Flow once it is ready)
    def recall(self, turn: _Turn) -> list[str]:
        """Memories close to what was said."""
        if self.memory is None or self._conversation.memories_in_prompt == 0:
            return []
        try:
            return self.memory.recall(turn.heard.text, self._conversation.memories_in_prompt)
        except Exception as exc:  # recall is a nicety; the reply goes on without it
            log.warning("memory recall failed", extra=fields(reason=str(exc)[:200]))
            return []

    def reply(self, turn: _Turn, memories: list[str]) -> TurnOutcome:
        """Speak the answer (fixed for urgent signs and reminders, streamed from the LLM otherwise) and store it."""
        outcome = TurnOutcome(wellbeing=turn.sign, reminder=turn.reminder)
        fixed = self._fixed_reply(turn)
        with self._speak_lock:
            self._speaking.set()
            try:
                if fixed is not None:
                    self._say_sentences(turn, outcome, iter([fixed]))
                else:
                    self._say_llm_reply(turn, outcome, memories)
                if not self._interrupted.is_set():
                    self._speaker.wait(timeout=60.0)
            finally:
                self._speaking.clear()
        outcome.interrupted = self._interrupted.is_set()
        outcome.reply = " ".join(outcome.spoken_sentences) or None
        self._last_reply_at = self._last_activity = time.monotonic()
        self._store_reply(turn, outcome)
        return outcome

    def after(self, turn: _Turn, outcome: TurnOutcome) -> Future[None]:
        """Queue the slower post-turn work (memory, crew review) so it never delays the next reply."""
        return self._post_turn.submit(self._review, turn, outcome)

    # -- inside a turn
    def _fixed_reply(self, turn: _Turn) -> str | None:
        if turn.sign is not None and (urgent := urgent_reply(turn.sign, self._language)) is not None:
            return urgent
        if turn.reminder is not None:
            self.records.add_reminder(turn.reminder.what, turn.reminder.due_at, turn.heard.turn_id)
            now = datetime.now().astimezone()
            return reminder_confirmation(turn.reminder.what, turn.reminder.due_at.astimezone(), now, self._language)
        if self.llm is None:
            return WARMING_UP[self._language]
        return None

    def _messages(
        self, text: str, conversation_id: str | None, memories: list[str], concern: str | None, turn_id: str | None
    ) -> list[ChatMessage]:
        return build_messages(
            self._language,
            self._conversation.companion_name,
            text,
            memories,
            self._history(conversation_id, turn_id),
            concern=concern,
        )

    def _anticipated_messages(self, text: str) -> list[ChatMessage] | None:
        """The prompt a reply to `text` would get, or None when the answer will not come from the LLM."""
        if not self._conversation.anticipate or not text.strip() or not self.addressed(text):
            return None
        if assess(text) is not None or parse_reminder(text, datetime.now().astimezone()) is not None:
            return None
        memories = self.recall(_Turn(HeardTurn(text, ""), time.monotonic(), None, None))
        return self._messages(text, self._last_conversation_id, memories, None, None)

    def _say_prepared(self, turn: _Turn, outcome: TurnOutcome, prepared: PreparedReply) -> None:
        if prepared.first_token_at is not None:
            outcome.first_token_ms = max(0.0, prepared.first_token_at - turn.started) * 1000
        try:
            if prepared.first_sentence is not None and prepared.first_speech is not None:
                self._play(turn, outcome, prepared.first_sentence, prepared.first_speech)
            self._say_sentences(turn, outcome, prepared.rest)
        finally:
            prepared.close()

    def _say_llm_reply(self, turn: _Turn, outcome: TurnOutcome, memories: list[str]) -> None:
        assert self.llm is not None
        llm_settings = self._settings.llm
        prepared = (
            self.anticipator.take(turn.heard.text, llm_settings.first_token_timeout_s) if turn.sign is None else None
        )
        if prepared is not None:
            try:
                self._say_prepared(turn, outcome, prepared)
                return
            except LlmUnavailableError as exc:
                log.warning("language model failed mid-reply", extra=fields(reason=str(exc)[:200]))
                if outcome.spoken_sentences:
                    return
        concern = None if turn.sign is None else turn.sign.kind
        messages = self._messages(turn.heard.text, turn.heard.conversation_id, memories, concern, turn.heard.turn_id)
        stream = self.llm.stream(messages, llm_settings.max_tokens, llm_settings.temperature)

        def timed() -> Iterator[str]:
            for piece in stream:
                if outcome.first_token_ms is None:
                    outcome.first_token_ms = (time.monotonic() - turn.started) * 1000
                yield piece

        try:
            self._say_sentences(turn, outcome, sentences(timed()))
        except LlmUnavailableError as exc:
            log.warning("language model unavailable; fallback answer", extra=fields(reason=str(exc)[:200]))
            if not outcome.spoken_sentences:
                outcome.fallback = True
                self._say_sentences(turn, outcome, iter([FALLBACK[self._language]]))
        finally:
            stream.close()

    def _say_sentences(self, turn: _Turn, outcome: TurnOutcome, texts: Iterable[str]) -> None:
        for sentence in texts:
            if self._interrupted.is_set():
                return
            speech, _ = self.voice.speak(sentence)
            self._play(turn, outcome, sentence, speech)

    def _play(self, turn: _Turn, outcome: TurnOutcome, sentence: str, speech: Speech) -> None:
        if self._interrupted.is_set():
            return
        self._speaker.play(speech.samples, speech.rate)
        if outcome.first_audio_ms is None:
            outcome.first_audio_ms = (time.monotonic() - turn.started) * 1000
        outcome.spoken_sentences.append(sentence)

    def _history(self, conversation_id: str | None, turn_id: str | None) -> list[PastTurn]:
        if conversation_id is None or self._conversation.history_turns == 0:
            return []
        rows = self._store.recent_turns(self._conversation.history_turns + 1, conversation_id)
        return [PastTurn(r.role, r.text) for r in reversed(rows) if r.id != turn_id]

    def _store_reply(self, turn: _Turn, outcome: TurnOutcome) -> None:
        if outcome.reply is None:
            return
        model = self.llm.model if self.llm is not None and not outcome.fallback else "fixed"
        try:
            self._store.record(
                companion_turn(
                    outcome.reply, self._language, turn.heard.turn_id, model, self.voice.name,
                    _round(outcome.first_token_ms), _round(outcome.first_audio_ms), outcome.interrupted,
                ),
                turn.heard.source,
            )  # fmt: skip
        except PapoError as exc:
            log.error("reply not stored", extra=fields(reason=str(exc)))

    def _wait_for_a_pause(self) -> None:
        """The crew shares the LLM with the replies: let it work only once the conversation pauses."""
        idle_s = self._conversation.review_after_idle_s
        while not self._closing.is_set():
            remaining = self._last_activity + idle_s - time.monotonic()
            if remaining <= 0:
                return
            self._closing.wait(remaining)

    def _review(self, turn: _Turn, outcome: TurnOutcome) -> None:
        if self.crew.state is CrewState.READY:
            self._wait_for_a_pause()
        try:
            review = self.crew.review(turn.heard.text, outcome.reply or "")
        except Exception as exc:  # the crew is best effort; the rules already ran
            log.warning("post-turn review failed", extra=fields(reason=str(exc)[:200]))
            review = None
        try:
            if review is not None:
                for fact in review.facts:
                    self._remember(fact, "fact", turn)
                if review.concern is not None and turn.sign is None and review.severity is not None:
                    self.records.add_wellbeing(review.concern, review.severity, turn.heard.text[:200], "crew",
                                               turn.heard.turn_id)  # fmt: skip
            elif _worth_remembering(turn.heard.text):
                self._remember(turn.heard.text, "said", turn)
        except PapoError as exc:
            log.error("post-turn work failed", extra=fields(reason=str(exc)))

    def _remember(self, text: str, kind: str, turn: _Turn) -> None:
        if self.memory is None:
            self.records.add_memory(text, kind, turn.heard.turn_id)  # indexed when the memory store opens
            return
        self.memory.remember(text, kind, turn.heard.turn_id)
        log.info("remembered", extra=fields(kind=kind, chars=len(text)))


def _worth_remembering(text: str) -> bool:
    """Without the crew: keep the person's own statements about themselves (not questions, not small talk)."""
    return "?" not in text and len(text.split()) >= 4 and _PERSONAL.search(text) is not None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)

"""One turn of conversation as a plain sequence: rules → recall → reply → post-turn work.

Speech not said to the companion gets the rules only: a sign of trouble is recorded (kind, severity, the matched
phrase) and answered with a check-in question; nothing else of it is used or kept.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from datetime import datetime

from papo.conversation.anticipation import Anticipator
from papo.conversation.crew import CrewRuntime
from papo.conversation.llm import ChatClient, ChatMessage
from papo.conversation.memory import MemoryStore
from papo.conversation.phrases import CHECK_IN, WARMING_UP, reminder_confirmation, reminder_due, urgent_reply
from papo.conversation.post_turn import PostTurnReviewer
from papo.conversation.prompt import PastTurn, build_messages
from papo.conversation.reminders import parse_reminder
from papo.conversation.replier import Replier
from papo.conversation.speech_output import SpeechOutput
from papo.conversation.turn import HeardTurn, TurnContext, TurnOutcome
from papo.conversation.wake import mentions
from papo.conversation.wellbeing import WellbeingSign, assess
from papo.errors import PapoError
from papo.settings import ConversationSettings, Settings, live_keys
from papo.store import EventSource, Store, companion_turn, utc_now
from papo.system.logging import fields

log = logging.getLogger(__name__)


class Companion:
    """Answers aloud, remembers, reminds and watches over; never fails a turn because the LLM did.

    The LLM and the memory index come up after the companion can already speak, so both are given as
    providers: until the LLM is there the companion says it is warming up; until memory is, it recalls nothing.
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        output: SpeechOutput,
        llm: Callable[[], ChatClient | None],
        memory: Callable[[], MemoryStore | None],
        crew: CrewRuntime,
    ) -> None:
        self._settings = settings
        self._conversation = settings.conversation
        self._language = settings.conversation.language
        self._store = store
        self.output = output
        self._llm = llm
        self._memory = memory
        self._last_reply_at: float | None = None
        self._last_conversation_id: str | None = None
        self.anticipator = Anticipator(
            output.voice, llm, self._anticipated_messages, settings.llm.max_tokens, settings.llm.temperature
        )
        self._replier = Replier(output, self.anticipator, settings.llm, self._language)
        self._reviewer = PostTurnReviewer(store, memory, crew, lambda: self._conversation.review_after_idle_s)

    def addressed(self, text: str, began: float | None = None) -> bool:
        """Whether `text` is for the companion: a wake word, or begun (`began`, monotonic) soon after its last reply."""
        at = time.monotonic() if began is None else began
        if self._last_reply_at is not None and at - self._last_reply_at <= self._conversation.follow_up_s:
            return True
        return mentions(text, self._conversation.wake_words)

    def respond(self, heard: HeardTurn, addressed: bool = True) -> TurnOutcome:
        """Handle one utterance: the wellbeing rules always; the reply when addressed, else a check-in on a sign."""
        started = heard.eos_monotonic if heard.eos_monotonic is not None else time.monotonic()
        if not heard.text.strip() or not re.search(r"\w{2,}", heard.text):
            return TurnOutcome()
        sign = self._watch(heard)
        if not addressed:  # nothing was prepared for it: the anticipator asks `addressed` too, at the pause
            if sign is None:
                return TurnOutcome()
            return self._reply(TurnContext(heard, started, sign, None, addressed=False), [])
        self._reviewer.touch()
        self._last_conversation_id = heard.conversation_id or self._last_conversation_id
        reminder = parse_reminder(heard.text, datetime.now().astimezone())
        turn = TurnContext(heard, started, sign, reminder)
        memories = self._recall(heard.text)
        outcome = self._reply(turn, memories)
        self._reviewer.submit(turn, outcome)
        return outcome

    def apply_settings(self, conversation: ConversationSettings) -> None:
        """Take at once the conversation settings that apply live (wake words, follow-up window, sizes...)."""
        live = {key.removeprefix("conversation.") for key in live_keys() if key.startswith("conversation.")}
        self._conversation = self._conversation.model_copy(update={key: getattr(conversation, key) for key in live})

    def interrupt(self) -> bool:
        """Barge-in: stop speaking now; True if something was being said."""
        return self.output.interrupt()

    @property
    def speaking(self) -> bool:
        """Whether a reply is being played."""
        return self.output.speaking

    def speak_due_reminders(self) -> int:
        """Speak every reminder that is due and mark it spoken; how many."""
        due = self._store.reminders.due(utc_now())
        for reminder in due:
            log.info("reminder due", extra=fields(reminder_id=reminder.id))
            self.output.say(reminder_due(reminder.what, self._language))
            self._store.reminders.mark_spoken(reminder.id)
        return len(due)

    def close(self) -> None:
        """Finish post-turn work (without waiting for a pause) and drop any prepared reply."""
        self.anticipator.close()
        self._reviewer.close()

    def _watch(self, heard: HeardTurn) -> WellbeingSign | None:
        """The wellbeing rules: record a sign (kind, severity, matched phrase only) before anything that can fail."""
        sign = assess(heard.text)
        if sign is None:
            return None
        log.warning("wellbeing sign", extra=fields(kind=sign.kind, severity=sign.severity.value))
        try:
            self._store.wellbeing.add(sign.kind, sign.severity, sign.evidence, EventSource.RULES, heard.turn_id)
        except PapoError as exc:  # the spoken answer still comes
            log.error("wellbeing event not stored", extra=fields(kind=sign.kind, reason=str(exc)))
        return sign

    def _recall(self, text: str) -> list[str]:
        memory = self._memory()
        if memory is None or self._conversation.memories_in_prompt == 0:
            return []
        try:
            return memory.recall(text, self._conversation.memories_in_prompt)
        except Exception as exc:  # recall is a nicety; the reply goes on without it
            log.warning("memory recall failed", extra=fields(reason=str(exc)[:200]))
            return []

    def _reply(self, turn: TurnContext, memories: list[str]) -> TurnOutcome:
        """Speak the answer (fixed for urgent signs and reminders, streamed from the LLM otherwise) and store it."""
        outcome = TurnOutcome(wellbeing=turn.sign, reminder=turn.reminder, checked_in=not turn.addressed)
        llm = self._llm()
        fixed = self._fixed_reply(turn)
        if fixed is not None or llm is None:
            self._replier.say_fixed(turn, outcome, fixed or WARMING_UP[self._language])
        else:
            concern = None if turn.sign is None else turn.sign.kind
            heard = turn.heard
            self._replier.say_llm(
                turn, outcome, llm,
                lambda: self._messages(heard.text, heard.conversation_id, memories, concern, heard.turn_id),
            )  # fmt: skip
        outcome.reply = " ".join(outcome.spoken_sentences) or None
        self._last_reply_at = time.monotonic()
        self._reviewer.touch()
        self._store_reply(turn, outcome, None if fixed is not None else llm)
        return outcome

    def _fixed_reply(self, turn: TurnContext) -> str | None:
        if not turn.addressed:  # a sign overheard in speech not said to the companion: ask, claim nothing
            return CHECK_IN[self._language]
        if turn.sign is not None and (urgent := urgent_reply(turn.sign, self._language)) is not None:
            return urgent
        if turn.reminder is not None:
            self._store.reminders.add(turn.reminder.what, turn.reminder.due_at, turn.heard.turn_id)
            now = datetime.now().astimezone()
            return reminder_confirmation(turn.reminder.what, turn.reminder.due_at.astimezone(), now, self._language)
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
        return self._messages(text, self._last_conversation_id, self._recall(text), None, None)

    def _history(self, conversation_id: str | None, turn_id: str | None) -> list[PastTurn]:
        if conversation_id is None or self._conversation.history_turns == 0:
            return []
        rows = self._store.turns.recent(self._conversation.history_turns + 1, conversation_id)
        return [PastTurn(r.role.value, r.text) for r in reversed(rows) if r.id != turn_id]

    def _store_reply(self, turn: TurnContext, outcome: TurnOutcome, llm: ChatClient | None) -> None:
        if outcome.reply is None:
            return
        model = llm.model if llm is not None and not outcome.fallback else "fixed"
        first_token = None if outcome.first_token_ms is None else round(outcome.first_token_ms, 1)
        first_audio = None if outcome.first_audio_ms is None else round(outcome.first_audio_ms, 1)
        try:
            self._store.turns.record(
                companion_turn(
                    outcome.reply, self._language, turn.heard.turn_id, model, self.output.voice.name,
                    first_token, first_audio, outcome.interrupted,
                ),
                turn.heard.source,
            )  # fmt: skip
        except PapoError as exc:
            log.error("reply not stored", extra=fields(reason=str(exc)))

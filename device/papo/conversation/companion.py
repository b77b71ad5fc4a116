"""One turn of conversation as a plain sequence: rules → recall → reply → post-turn work.

Speech not said to the companion gets the rules only: a sign of trouble is recorded (kind, severity, the matched
phrase) and answered with a check-in question; nothing else of it is used or kept. A high or critical sign opens
a caregiver alert that Papo follows aloud from its real state (alert_voice.py), asking now and then whether the
person is all right until «estou bem» or a caregiver's acknowledgement.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta

from papo.conversation.alert_state import AlertCases
from papo.conversation.alert_voice import ALERT_WAIT_S, AlertVoice
from papo.conversation.anticipation import Anticipator, WhenRoom
from papo.conversation.crew import CrewRuntime
from papo.conversation.everyday import (
    Intent,
    date_today,
    memories_said,
    my_name,
    nothing_to_repeat,
    recognise,
    reminders_said,
    time_now,
)
from papo.conversation.llm import ChatClient, ChatMessage, LlmUnavailableError
from papo.conversation.memory import MemoryStore
from papo.conversation.person import person_name
from papo.conversation.phrases import (
    ALERT_OFFLINE,
    CHECK_IN,
    GLAD_FINE,
    NOTHING_FIT,
    WARMING_UP,
    reminder_confirmation,
    reminder_due,
    reminder_missed,
    urgent_reply,
)
from papo.conversation.post_turn import PostTurnReviewer
from papo.conversation.prompt import (
    Grounding,
    PastTurn,
    PromptStyle,
    build_messages,
    companion_messages,
    prompt_echo,
)
from papo.conversation.reach import cannot, out_of_reach
from papo.conversation.reminders import parse_reminder
from papo.conversation.replier import Replier
from papo.conversation.reply_filter import cheer_after, speakable, unshaped
from papo.conversation.speech_output import SpeechOutput
from papo.conversation.tuning import TUNED, Tuning
from papo.conversation.turn import HeardTurn, TurnContext, TurnOutcome, keep
from papo.conversation.voice_controls import VoiceChange, VoiceControls
from papo.conversation.wake import mentions
from papo.conversation.wellbeing import WellbeingSign, assess, says_fine
from papo.errors import PapoError
from papo.settings import ConversationSettings, Settings, live_keys
from papo.store import EventSource, Reminder, Severity, Store, companion_turn, utc_now
from papo.system.logging import fields

log = logging.getLogger(__name__)

WARM_UP_TIMEOUT_S = 60.0  # the first read of the fixed prompt: seconds on a board, beside CrewAI starting
SLOW_BOARD_FIRST_TOKEN_FACTOR = 2.0  # a reply may read the fixed prompt again plus its own part: twice the warm-up
SLOW_BOARD_FIRST_TOKEN_MAX_S = 30.0  # the longest wait for a first token the warm-up may grant


def _has_words(text: str) -> bool:
    return bool(text.strip()) and re.search(r"\w{2,}", text) is not None


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
        alerts: AlertVoice | None = None,
        tuning: Tuning = TUNED,
    ) -> None:
        self._settings = settings
        self._tuning = tuning
        self._conversation = settings.conversation
        self._language = settings.conversation.language
        self._store = store
        self.output = output
        self._llm = llm
        self._memory = memory
        self._last_reply_at: float | None = None
        self._last_reply: str | None = None  # what "repete" says again
        self._said_unmarked: set[str] = set()  # reminders said (or missed) whose mark could not be stored
        self.reminders_missed = 0  # reminders found overdue past the grace since start (reported on /health)
        self.llm_failing = False  # the last reply meant for the LLM got the fallback phrase (reported on /health)
        self._last_conversation_id: str | None = None
        self._echo = prompt_echo(self._language, self._conversation.companion_name)
        shape = self._speakable if tuning.filtered else unshaped
        self.anticipator = Anticipator(
            output.voice, llm, self._anticipated_messages, settings.llm.max_tokens, settings.llm.temperature, shape
        )
        self.pause_observer = WhenRoom(self.anticipator)  # what the listener tells of pauses
        instead = NOTHING_FIT[self._language] if tuning.filtered else None
        self._replier = Replier(output, self.anticipator, settings.llm, self._language, shape, instead)
        self.voice_controls = VoiceControls(output, settings, self._language)
        self.last_intent: str | None = None  # the rule that answered the last turn ("time", "weather"...), if any
        self._reviewer = PostTurnReviewer(store, memory, crew, lambda: self._conversation.review_after_idle_s)
        self.alerts = alerts or AlertVoice(
            output.say, AlertCases(self._language, lambda: self._conversation.checkin_min * 60, ALERT_WAIT_S)
        )

    def addressed(self, text: str, began: float | None = None) -> bool:
        """Whether `text` is for the companion: a wake word, or begun (`began`, monotonic) soon after its last reply."""
        at = time.monotonic() if began is None else began
        if self._last_reply_at is not None and at - self._last_reply_at <= self._conversation.follow_up_s:
            return True
        return mentions(text, self._conversation.wake_words)

    def respond(self, heard: HeardTurn, addressed: bool = True) -> TurnOutcome:
        """Handle one utterance: the wellbeing rules always; the reply when addressed, else a check-in on a sign.

        An urgent answer (or a check-in) is said before anything is stored; the turn (`heard.unsaved`), the sign
        and the reply are stored after it, each failure logged and never skipping what follows.
        """
        started = heard.eos_monotonic if heard.eos_monotonic is not None else time.monotonic()
        self.last_intent = None
        sign = self._rules(heard.text) if _has_words(heard.text) else None
        # «estou bem» answers the check-in of an open alert, wake word or not: it ends the check-ins
        fine = sign is None and self.alerts.checking_in and says_fine(heard.text)
        if sign is None and not fine and (not addressed or not _has_words(heard.text)):
            keep(heard, self._store)  # kept only if the household keeps everything; nothing to answer
            return TurnOutcome()
        turn = TurnContext(heard, started, sign, None, addressed)
        outcome = TurnOutcome(wellbeing=sign, checked_in=not addressed and sign is not None)
        offline = not self.alerts.online()
        # «estou bem» not said to Papo (the answer to an alert's check-in) gets a word back; said to it, a reply
        first = GLAD_FINE[self._language] if fine and not addressed else self._first_answer(sign, addressed, offline)
        if first is not None:
            self.last_intent = "wellbeing"
            self._say_first(turn, outcome, first)
        turn = replace(turn, heard=keep(heard, self._store))
        event_id = self._record_sign(sign, turn.heard.turn_id)
        if sign is not None and sign.severity in (Severity.HIGH, Severity.CRITICAL):
            said_offline = first is not None and ALERT_OFFLINE[self._language] in first
            self.alerts.opened(event_id, offline_said=said_offline, wait=not offline)
        if fine:
            self._said_fine()
        llm = None
        if addressed:
            self._reviewer.touch()
            self._last_conversation_id = turn.heard.conversation_id or self._last_conversation_id
        if first is None:
            turn = replace(turn, reminder=parse_reminder(heard.text, datetime.now().astimezone()))
            outcome.reminder = turn.reminder
            llm = self._reply(turn, outcome)
        self._store_reply(turn, outcome, llm)
        if addressed:
            self._reviewer.submit(turn, outcome)
        return outcome

    def warm_up(self) -> None:
        """Have the model read the fixed part of the prompt once now, so the first reply does not wait for it."""
        llm = self._llm()
        if llm is None:
            return
        started = time.monotonic()
        try:
            messages = self._messages("Oi", None, [], None, None)
            for _ in llm.stream(messages, 1, self._settings.llm.temperature, WARM_UP_TIMEOUT_S):
                pass
        except LlmUnavailableError as exc:
            log.warning("language model warm-up failed", extra=fields(reason=str(exc)[:200]))
            return
        spent_s = time.monotonic() - started
        # On a slow board reading a whole prompt takes longer than the setting allows: a reply whose prompt has to be
        # read again (after the review or an abandoned anticipation) would always end in the fallback phrase.
        llm.wait_for_first_token_up_to(min(spent_s * SLOW_BOARD_FIRST_TOKEN_FACTOR, SLOW_BOARD_FIRST_TOKEN_MAX_S))
        log.info(
            "language model warmed up",
            extra=fields(ms=round(spent_s * 1000), first_token_timeout_s=round(llm.first_token_timeout_s, 1)),
        )

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
        """Say the reminders now due, each marked spoken; how many were said or found missed.

        Only on a real output: with no speaker they stay due (nothing is said into the void). Those overdue past
        the grace (a clock jump, the device off) are not said one by one: the latest is mentioned once and all are
        marked missed. One that cannot be marked (a full disk) is remembered here, so it is not said every second.
        """
        if not self.output.has_speaker:
            return 0
        now = utc_now()
        due = [r for r in self._store.reminders.due(now) if r.id not in self._said_unmarked]
        cutoff = now - timedelta(minutes=self._conversation.reminder_grace_min)
        missed = [r for r in due if r.due_at < cutoff]
        if missed:
            self._mention_missed(missed, now)
        for reminder in (r for r in due if r.due_at >= cutoff):
            log.info("reminder due", extra=fields(reminder_id=reminder.id))
            self.output.say(reminder_due(reminder.what, self._language))
            try:
                self._store.reminders.mark_spoken(reminder.id)
            except PapoError as exc:
                self._said_unmarked.add(reminder.id)
                log.error("reminder not marked spoken", extra=fields(reminder_id=reminder.id, reason=str(exc)))
        return len(due)

    def _mention_missed(self, missed: list[Reminder], now: datetime) -> None:
        """Mention the latest of the reminders overdue past the grace, once, and mark them all missed."""
        latest = missed[-1]
        overdue_min = round((now - latest.due_at).total_seconds() / 60)
        log.warning("reminders missed", extra=fields(count=len(missed), reminder_id=latest.id, overdue_min=overdue_min))
        self.output.say(reminder_missed(latest.what, latest.due_at.astimezone(), self._language))
        self.reminders_missed += len(missed)
        try:
            self._store.reminders.mark_missed([r.id for r in missed])
        except PapoError as exc:
            self._said_unmarked.update(r.id for r in missed)
            log.error("reminders not marked missed", extra=fields(count=len(missed), reason=str(exc)))

    def close(self) -> None:
        """Finish post-turn work (without waiting for a pause) and drop any prepared reply."""
        self.anticipator.close()
        self._reviewer.close()
        self.alerts.close()

    def _rules(self, text: str) -> WellbeingSign | None:
        """The wellbeing rules (pure: nothing is stored here, so nothing here can fail on a full disk)."""
        sign = assess(text)
        if sign is not None:
            log.warning("wellbeing sign", extra=fields(kind=sign.kind, severity=sign.severity.value))
        return sign

    def _record_sign(self, sign: WellbeingSign | None, turn_id: str | None) -> str | None:
        """Record a sign (kind, severity, matched phrase only); its event id (its alert's msg_id), None if not stored.

        A failure is logged and the turn goes on.
        """
        if sign is None:
            return None
        try:
            return self._store.wellbeing.add(sign.kind, sign.severity, sign.evidence, EventSource.RULES, turn_id).id
        except PapoError as exc:
            log.error("wellbeing event not stored", extra=fields(kind=sign.kind, reason=str(exc)))
            return None

    def _said_fine(self) -> None:
        """End the check-ins of the open alerts and queue «estou bem» for the cloud, one update per alert."""
        for msg_id in self.alerts.fine():
            try:
                self._store.wellbeing.said_fine(msg_id)
            except PapoError as exc:
                log.error("wellbeing update not stored", extra=fields(msg_id=msg_id, reason=str(exc)))
        log.info("the person said they are all right; check-ins ended")

    def _first_answer(self, sign: WellbeingSign | None, addressed: bool, offline: bool) -> str | None:
        """What must be said before anything is stored: a check-in on a sign overheard, an urgent answer.

        `offline`: nobody can be warned now (no cloud link, or not connected), so an urgent answer says so at once.
        """
        if sign is None:
            return None
        if not addressed:  # a sign overheard in speech not said to the companion: ask, claim nothing
            return CHECK_IN[self._language]
        return urgent_reply(sign, self._language, offline)

    def _say_first(self, turn: TurnContext, outcome: TurnOutcome, text: str) -> None:
        """Say an urgent answer; if even that fails, log it and go on storing what was heard."""
        try:
            self._replier.say_fixed(turn, outcome, text)
        except Exception:  # the sign and the turn are still recorded, and the caregiver told
            log.exception("urgent answer could not be said")
        self._said(outcome)

    def _said(self, outcome: TurnOutcome) -> None:
        outcome.reply = " ".join(outcome.spoken_sentences) or None
        self._last_reply = outcome.reply or self._last_reply
        self._last_reply_at = time.monotonic()
        self._reviewer.touch()

    def _recall(self, text: str) -> list[str]:
        memory = self._memory()
        if memory is None or self._conversation.memories_in_prompt == 0:
            return []
        try:
            return memory.recall(text, self._conversation.memories_in_prompt)
        except Exception as exc:  # recall is a nicety; the reply goes on without it
            log.warning("memory recall failed", extra=fields(reason=str(exc)[:200]))
            return []

    def _reply(self, turn: TurnContext, outcome: TurnOutcome) -> ChatClient | None:
        """Say the answer (a reminder's confirmation, or streamed from the LLM); the LLM it came from, if any."""
        llm = self._llm()
        fixed = self._reminder_reply(turn)
        if fixed is None:
            fixed = self._everyday_reply(turn.heard.text)
        if fixed == "":  # "para", "chega", "silêncio": the answer is to be quiet
            self.output.interrupt()
            return None
        if fixed is not None or llm is None:
            self._replier.say_fixed(turn, outcome, fixed or WARMING_UP[self._language])
            self._said(outcome)
            return None
        memories = self._recall(turn.heard.text)
        concern = None if turn.sign is None else turn.sign.kind
        heard = turn.heard
        self._replier.say_llm(
            turn, outcome, llm,
            lambda: self._messages(heard.text, heard.conversation_id, memories, concern, heard.turn_id),
        )  # fmt: skip
        self.llm_failing = outcome.fallback
        self._said(outcome)
        return llm

    def _reminder_reply(self, turn: TurnContext) -> str | None:
        """The confirmation of a reminder asked for, once stored; None if none was asked or it cannot be kept."""
        if turn.reminder is None:
            return None
        try:
            self._store.reminders.add(turn.reminder.what, turn.reminder.due_at, turn.heard.turn_id)
        except PapoError as exc:  # promise nothing that cannot be kept: the reply comes from the LLM instead
            log.error("reminder not stored", extra=fields(reason=str(exc)))
            return None
        now = datetime.now().astimezone()
        self.last_intent = "reminder"
        return reminder_confirmation(turn.reminder.what, turn.reminder.due_at.astimezone(), now, self._language)

    def _everyday_reply(self, text: str) -> str | None:
        """The exact answer to an everyday question ("" to say nothing: "para"), or None for the model."""
        intent = recognise(text)
        if intent is None:
            return self._out_of_reach_reply(text)
        self.last_intent = intent.value
        log.info("everyday question", extra=fields(intent=intent.value))
        if intent in (Intent.SLOWER, Intent.FASTER, Intent.LOUDER, Intent.SOFTER):
            return self.voice_controls.change(VoiceChange(intent.value))
        now, language = datetime.now().astimezone(), self._language
        try:
            if intent is Intent.REMINDERS:
                pending = [(r.what, r.due_at.astimezone()) for r in self._store.reminders.all()]
                return reminders_said(pending, now, language)
            if intent is Intent.MEMORIES:
                return memories_said([m.text for m in reversed(self._store.memories.all())], language)
        except PapoError as exc:  # the store cannot be read: the model answers instead
            log.error("everyday answer unavailable", extra=fields(intent=intent.value, reason=str(exc)))
            return None
        if intent is Intent.TIME:
            return time_now(now, language)
        if intent is Intent.DATE:
            return date_today(now, language)
        if intent is Intent.NAME:
            return my_name(self._conversation.companion_name, language)
        if intent is Intent.STOP:
            return ""
        return self._last_reply or nothing_to_repeat(language)

    def _out_of_reach_reply(self, text: str) -> str | None:
        """The honest "não consigo" to a request for the weather, the news or a call; None for anything else."""
        kind = out_of_reach(text) if self._tuning.reach_rules else None
        if kind is None:
            return None
        self.last_intent = kind.value
        log.info("request out of reach", extra=fields(intent=kind.value))
        return cannot(kind, self._language)

    def _messages(
        self, text: str, conversation_id: str | None, memories: list[str], concern: str | None, turn_id: str | None
    ) -> list[ChatMessage]:
        history = self._history(conversation_id, turn_id)
        name = self._conversation.companion_name
        if self._tuning.style is PromptStyle.LEGACY:
            return build_messages(self._language, name, text, memories, history, concern=concern)
        grounding = Grounding(datetime.now().astimezone(), self._person(text, history), tuple(memories), concern)
        return companion_messages(self._language, name, text, grounding, history)

    def _person(self, text: str, history: list[PastTurn]) -> str | None:
        """The person's name, from their own words: this utterance, the conversation, what Papo keeps of them."""
        said = [text] + [t.text for t in reversed(history) if t.role == "person"]
        name = person_name(said)
        if name is not None:
            return name
        try:
            return person_name(m.text for m in reversed(self._store.memories.all()))
        except PapoError:
            return None

    def _speakable(self, heard: str, written: Iterable[str]) -> Iterator[str]:
        """The model's sentences in reply to `heard` fit to be said; echoes of the prompt and cheers at sad news out."""
        echo, cheer = self._echo.check(heard), cheer_after(heard)
        return speakable(written, lambda sentence: echo(sentence) or cheer(sentence))

    def _anticipated_messages(self, text: str) -> list[ChatMessage] | None:
        """The prompt a reply to `text` would get, or None when anticipation is off or the LLM will not answer."""
        return self.model_prompt(text) if self._conversation.anticipate else None

    def model_prompt(self, text: str) -> list[ChatMessage] | None:
        """The prompt the LLM would be given for `text` now, or None when the answer will not come from the LLM."""
        if not text.strip() or not self.addressed(text):
            return None
        if assess(text) is not None or parse_reminder(text, datetime.now().astimezone()) is not None:
            return None
        if recognise(text) is not None or (self._tuning.reach_rules and out_of_reach(text) is not None):
            return None  # a rule answers: the model is not asked
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

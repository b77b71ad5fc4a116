"""The plain typed records the store hands to other layers (never its table rows)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

from papo.store.kinds import ErasureScope, EventSource, MemoryKind, ReminderRepeat, ReminderStatus, Role, Severity


def utc_now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcTime = Annotated[datetime, AfterValidator(_utc)]
"""A time in UTC (SQLite gives times back without their zone; the store writes them all in UTC)."""


class Record(BaseModel):
    """A read-only record (built from a table row, or to write one)."""

    model_config = ConfigDict(frozen=True, from_attributes=True, use_attribute_docstrings=True)


class NewTurn(Record):
    """Everything the pipeline knows about one heard utterance (or one spoken answer)."""

    text: str
    """What was said (the transcript), or what the companion answered."""
    language: str
    """The language it was said in (pt, en)."""
    audio_start_s: float
    """Where the speech began in the audio heard, in seconds."""
    audio_end_s: float
    """Where the speech ended in the audio heard, in seconds."""
    audio_duration_s: float
    """How long the speech lasted, in seconds."""
    stt_model: str
    """The speech-to-text model that wrote it down."""
    stt_window: str
    """How much audio the speech-to-text model was given."""
    vad_model: str
    """The model that found the speech in the audio."""
    vad_ms: float | None = None
    """Time spent finding the speech, in milliseconds."""
    stt_ms: float | None = None
    """Time spent writing it down, in milliseconds."""
    eos_to_text_ms: float | None = None
    """From the end of speech to the text, in milliseconds."""
    role: Role = Role.PERSON
    """Who said it: the person, or the companion."""
    reply_to: str | None = None
    """For an answer: the id of the turn it answered."""
    eos_to_first_token_ms: float | None = None
    """For an answer: from the end of speech to its first word written, in milliseconds."""
    eos_to_first_audio_ms: float | None = None
    """For an answer: from the end of speech to its first sound, in milliseconds."""
    llm_model: str | None = None
    """For an answer: the language model that wrote it."""
    tts_voice: str | None = None
    """For an answer: the voice that said it."""
    interrupted: bool = False
    """For an answer: whether the person spoke over it."""


def companion_turn(
    text: str,
    language: str,
    reply_to: str | None,
    llm_model: str,
    tts_voice: str,
    eos_to_first_token_ms: float | None,
    eos_to_first_audio_ms: float | None,
    interrupted: bool,
) -> NewTurn:
    """The companion's spoken answer as a turn (no audio position or speech models of its own)."""
    return NewTurn(
        text=text,
        language=language,
        audio_start_s=0.0,
        audio_end_s=0.0,
        audio_duration_s=0.0,
        stt_model="",
        stt_window="",
        vad_model="",
        role=Role.COMPANION,
        reply_to=reply_to,
        eos_to_first_token_ms=eos_to_first_token_ms,
        eos_to_first_audio_ms=eos_to_first_audio_ms,
        llm_model=llm_model,
        tts_voice=tts_voice,
        interrupted=interrupted,
    )


class Turn(NewTurn):
    """A stored turn: what was said, where in the audio, how long each stage took, which models."""

    id: str
    """The turn's id (what `papo forget` takes)."""
    conversation_id: str
    """The conversation it belongs to."""
    seq: int
    """Its place in the order of everything said on this device."""
    started_at: UtcTime
    """When it was stored."""


class TurnPage(Record):
    """One page of the history (newest first) and how many turns matched in all."""

    turns: list[Turn]
    """The turns on this page, newest first."""
    total: int
    """How many turns matched, on every page."""


class Memory(Record):
    """Something worth remembering about the person."""

    id: str
    """The memory's id (what `papo memory forget` takes)."""
    turn_id: str | None
    """The turn it came from, if any."""
    kind: MemoryKind
    """fact (noted from a conversation) or said (the person's own words)."""
    text: str
    """What is remembered."""
    created_at: UtcTime
    """When it was remembered."""


class Reminder(Record):
    """A reminder the person asked for."""

    id: str
    """The reminder's id."""
    turn_id: str | None
    """The turn that asked for it, if any."""
    what: str
    """What to remind the person of."""
    due_at: UtcTime
    """When to say it."""
    created_at: UtcTime
    """When it was asked for."""
    status: ReminderStatus
    """pending, spoken, cancelled or missed (overdue past the grace: mentioned, not said)."""
    spoken_at: UtcTime | None
    """When it was last said, if it was (never for a missed one)."""
    repeat: ReminderRepeat = ReminderRepeat.NONE
    """How often it comes back: none, daily or weekly (a repeating one is due again once said or missed)."""


class WellbeingEvent(Record):
    """A sign of distress, a fall, an emergency or loneliness, queued for the caregiver channel."""

    id: str
    """The event's id."""
    turn_id: str | None
    """The turn it was noticed in, if any."""
    kind: str
    """What was noticed (distress, fall, emergency, loneliness...)."""
    severity: Severity
    """How urgently a caregiver should know."""
    evidence: str
    """The words that showed it."""
    source: EventSource
    """What noticed it: the fixed rules, or the review of the conversation."""
    created_at: UtcTime
    """When it was noticed."""
    seen_at: UtcTime | None = None
    """When someone looking after the person marked it seen, if they did."""
    seen_by: str | None = None
    """Who marked it seen."""


class Conversation(Record):
    """A run of turns without a long silence between them."""

    id: str
    """The conversation's id."""
    source: str
    """Where it was heard: the microphone (mic), a recording (file:NAME) or the demo."""
    started_at: UtcTime
    """When its first turn was stored."""
    last_turn_at: UtcTime
    """When its last turn was stored."""


class ErasureRequest(Record):
    """A request to erase, and how far it got: wiped from this device's disk, confirmed by the cloud."""

    id: str
    """The request's id (for erasures sent to the cloud, the id of the message that asks it to erase)."""
    scope: ErasureScope
    """What was erased: everything (all_history), some turns (turns), or memories."""
    requested_at: UtcTime
    """When it was asked for."""
    scrubbed_at: UtcTime | None = None
    """When it was wiped from this device's files (memory index and cache included)."""
    confirmed_at: UtcTime | None = None
    """When the cloud confirmed it erased its copy."""


class Erasure(Record):
    """What one erasure removed from the store; `request.id` is the msg_id of the tombstone sent to the cloud."""

    request: ErasureRequest
    turns: int = 0
    conversations: int = 0
    memories: int = 0
    wellbeing_events: int = 0
    reminders: int = 0
    outbox_rows: int = 0
    pending_reminders_kept: int = 0

"""The plain typed records the store hands to other layers (never its table rows)."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict

from papo.store.kinds import EventSource, MemoryKind, ReminderStatus, Role, Severity


def utc_now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


class Record(BaseModel):
    """A read-only record (built from a table row, or to write one)."""

    model_config = ConfigDict(frozen=True, from_attributes=True)


class NewTurn(Record):
    """Everything the pipeline knows about one heard utterance (or one spoken answer)."""

    text: str
    language: str
    audio_start_s: float
    audio_end_s: float
    audio_duration_s: float
    stt_model: str
    stt_window: str
    vad_model: str
    vad_ms: float | None = None
    stt_ms: float | None = None
    eos_to_text_ms: float | None = None
    role: Role = Role.PERSON
    reply_to: str | None = None
    eos_to_first_token_ms: float | None = None
    eos_to_first_audio_ms: float | None = None
    llm_model: str | None = None
    tts_voice: str | None = None
    interrupted: bool = False


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
    conversation_id: str
    seq: int
    started_at: datetime


class Memory(Record):
    """Something worth remembering about the person."""

    id: str
    turn_id: str | None
    kind: MemoryKind
    text: str
    created_at: datetime


class Reminder(Record):
    """A reminder the person asked for."""

    id: str
    turn_id: str | None
    what: str
    due_at: datetime
    created_at: datetime
    status: ReminderStatus
    spoken_at: datetime | None


class WellbeingEvent(Record):
    """A sign of distress, a fall, an emergency or loneliness, queued for the caregiver channel."""

    id: str
    turn_id: str | None
    kind: str
    severity: Severity
    evidence: str
    source: EventSource
    created_at: datetime

"""SQLModel tables of the device store (used only inside papo.store; other layers get records)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class ConversationRow(SQLModel, table=True):
    """A run of turns without a long silence between them."""

    __tablename__ = "conversation"

    id: str = Field(primary_key=True, max_length=32)
    device_id: str = Field(max_length=64)
    source: str = Field(max_length=64, description="mic, file or demo")
    started_at: datetime
    last_turn_at: datetime = Field(index=True)


class TurnRow(SQLModel, table=True):
    """One utterance: what was said, where in the audio, how long each stage took, which models."""

    __tablename__ = "turn"

    id: str = Field(primary_key=True, max_length=32)
    conversation_id: str = Field(foreign_key="conversation.id", index=True, max_length=32)
    seq: int = Field(unique=True, description="Per-device order, used by sync")
    role: str = Field(max_length=16)
    text: str
    language: str = Field(max_length=8)
    started_at: datetime
    audio_start_s: float
    audio_end_s: float
    audio_duration_s: float
    vad_ms: float | None = None
    stt_ms: float | None = None
    eos_to_text_ms: float | None = None
    stt_model: str = Field(max_length=64)
    stt_window: str = Field(max_length=8)
    vad_model: str = Field(max_length=64)
    reply_to: str | None = Field(default=None, max_length=32, description="For a companion turn: the turn answered")
    eos_to_first_token_ms: float | None = None
    eos_to_first_audio_ms: float | None = None
    llm_model: str | None = Field(default=None, max_length=64)
    tts_voice: str | None = Field(default=None, max_length=64)
    interrupted: bool = False


class MemoryRow(SQLModel, table=True):
    """Something worth remembering about the person; the source the ChromaDB index is rebuilt from."""

    __tablename__ = "memory"

    id: str = Field(primary_key=True, max_length=32)
    turn_id: str | None = Field(default=None, max_length=32, index=True)
    kind: str = Field(max_length=16, description="fact (extracted) or said (the person's own words)")
    text: str
    created_at: datetime


class ReminderRow(SQLModel, table=True):
    """A reminder the person asked for, spoken when due."""

    __tablename__ = "reminder"

    id: str = Field(primary_key=True, max_length=32)
    turn_id: str | None = Field(default=None, max_length=32)
    what: str
    due_at: datetime = Field(index=True)
    created_at: datetime
    status: str = Field(default="pending", max_length=16, description="pending, spoken, cancelled or missed")
    spoken_at: datetime | None = None
    repeat: str = Field(default="none", max_length=16, description="none, daily or weekly: re-armed once said")


class WellbeingEventRow(SQLModel, table=True):
    """A sign of distress, a fall, an emergency or loneliness, queued for the caregiver channel."""

    __tablename__ = "wellbeingevent"

    id: str = Field(primary_key=True, max_length=32)
    turn_id: str | None = Field(default=None, max_length=32, index=True)
    kind: str = Field(max_length=32)
    severity: str = Field(max_length=16)
    evidence: str
    source: str = Field(max_length=16, description="rules or crew")
    created_at: datetime
    seen_at: datetime | None = None
    seen_by: str | None = Field(default=None, max_length=64, description="Who marked it seen on the web page")


class OutboxRow(SQLModel, table=True):
    """A change waiting to reach the cloud, written in the same transaction as the change itself."""

    __tablename__ = "outbox"

    seq: int | None = Field(default=None, primary_key=True, description="Per-device order of changes")
    msg_id: str = Field(max_length=32, unique=True, description="Idempotency key in the cloud")
    kind: str = Field(max_length=16, description="turn, wellbeing or tombstone")
    payload: str = Field(description="The item's wire JSON (papo_sync.protocol)")
    created_at: datetime


class ErasureRow(SQLModel, table=True):
    """A request to erase: done in SQLite at once, then wiped from the other files, then confirmed by the cloud."""

    __tablename__ = "erasure"

    id: str = Field(primary_key=True, max_length=32, description="The msg_id of the tombstone sent to the cloud")
    scope: str = Field(max_length=16, description="all_history, turns or memories")
    requested_at: datetime
    scrubbed_at: datetime | None = Field(
        default=None, index=True, description="When the memory index and cache files were rewritten without it"
    )
    confirmed_at: datetime | None = Field(default=None, description="When the cloud confirmed its copy was erased")

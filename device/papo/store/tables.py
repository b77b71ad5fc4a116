"""SQLModel tables of the device store: conversations and their turns."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class Conversation(SQLModel, table=True):
    """A run of turns without a long silence between them."""

    id: str = Field(primary_key=True, max_length=32)
    device_id: str = Field(max_length=64)
    source: str = Field(max_length=64, description="mic, file or demo")
    started_at: datetime
    last_turn_at: datetime = Field(index=True)


class Turn(SQLModel, table=True):
    """One utterance: what was said, where in the audio, how long each stage took, which models."""

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

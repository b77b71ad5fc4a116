"""The one definition of the Papo Social wire format: MQTT topics and JSON payload models (v1)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PROTOCOL_VERSION: Literal[1] = 1
TOPIC_ROOT = "papo/v1"
MAX_TEXT_CHARS = 4000

_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


def device_prefix(tenant: str, device_id: str) -> str:
    """Return the topic prefix every message of one device lives under."""
    return f"{TOPIC_ROOT}/{tenant}/{device_id}"


def sync_up_topic(tenant: str, device_id: str) -> str:
    """Return the topic a device publishes outbox batches on."""
    return f"{device_prefix(tenant, device_id)}/sync/up"


def sync_ack_topic(tenant: str, device_id: str) -> str:
    """Return the topic the cloud acknowledges committed batches on."""
    return f"{device_prefix(tenant, device_id)}/sync/ack"


class WireModel(BaseModel):
    """Base of every payload: strict about unknown fields and frozen once built."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class StageTimings(WireModel):
    """How long each stage of one voice turn took, in milliseconds."""

    vad_ms: float | None = Field(default=None, ge=0)
    stt_ms: float | None = Field(default=None, ge=0)
    eos_to_text_ms: float | None = Field(default=None, ge=0)


class TurnRecord(WireModel):
    """One spoken turn as the device stores it and the cloud receives it."""

    schema_version: Literal[1] = PROTOCOL_VERSION
    device_id: str = Field(pattern=_ID_PATTERN)
    conversation_id: str = Field(min_length=1, max_length=64)
    turn_id: str = Field(min_length=1, max_length=64)
    seq: int = Field(ge=0)
    role: Literal["person", "companion"]
    text: str = Field(max_length=MAX_TEXT_CHARS)
    language: str = Field(min_length=2, max_length=8)
    started_at: datetime
    audio_duration_s: float = Field(ge=0)
    timings: StageTimings
    stt_model: str | None = None

"""The one definition of the Papo Social wire format: MQTT topics and JSON payload models (v1)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

PROTOCOL_VERSION: Literal[1] = 1
TOPIC_ROOT = "papo/v1"
MAX_TEXT_CHARS = 4000
MAX_BATCH_ITEMS = 500
MAX_PAYLOAD_BYTES = 1_000_000  # of one MQTT payload the cloud accepts (the broker refuses packets over 2 MB)
INGEST_GROUP = "ingest"

_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
DeviceId = Annotated[str, Field(pattern=_ID_PATTERN)]
MessageId = Annotated[str, Field(min_length=1, max_length=64)]
TurnId = Annotated[str, Field(min_length=1, max_length=64)]
# what the cloud's integer columns hold: a larger number would fail the whole ingest round, not just its message
MAX_BIGINT = 2**63 - 1
MAX_INT = 2**31 - 1
MAX_HEALTH_REASONS = 16
MAX_REASON_CHARS = 200
_BATCH_ENVELOPE_BYTES = 256  # `{"schema_version":1,"device_id":…,"batch_id":…,"items":[]}` with ids at their limits


def valid_id(value: str) -> bool:
    """Whether `value` can be a tenant or device id (what topics carry and the cloud's id columns hold)."""
    return 1 <= len(value) <= 64 and all(c.isascii() and (c.isalnum() or c in "_-") for c in value)


def _json_safe(value: Any) -> bool:
    """Whether a JSON value can be stored as PostgreSQL JSONB: no NUL character, no NaN or infinity, at any depth."""
    if isinstance(value, str):
        return "\x00" not in value
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_json_safe(k) and _json_safe(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(_json_safe(v) for v in value)
    return True


def _storable(value: dict[str, Any]) -> dict[str, Any]:
    if not _json_safe(value):
        raise ValueError("holds a NUL character, NaN or infinity, which cannot be stored")
    return value


JsonObject = Annotated[dict[str, Any], AfterValidator(_storable)]
"""A free-form JSON object on the wire (settings, command arguments): NUL-free and finite, as JSONB needs."""


def device_prefix(tenant: str, device_id: str) -> str:
    """Return the topic prefix every message of one device lives under."""
    return f"{TOPIC_ROOT}/{tenant}/{device_id}"


def sync_up_topic(tenant: str, device_id: str) -> str:
    """Return the topic a device publishes outbox batches on."""
    return f"{device_prefix(tenant, device_id)}/sync/up"


def sync_ack_topic(tenant: str, device_id: str) -> str:
    """Return the topic the cloud acknowledges committed batches on."""
    return f"{device_prefix(tenant, device_id)}/sync/ack"


def state_topic(tenant: str, device_id: str) -> str:
    """Return the retained presence topic of a device (birth and last will)."""
    return f"{device_prefix(tenant, device_id)}/state"


def telemetry_topic(tenant: str, device_id: str) -> str:
    """Return the topic a device publishes its periodic health on."""
    return f"{device_prefix(tenant, device_id)}/telemetry"


def shadow_update_topic(tenant: str, device_id: str) -> str:
    """Return the topic a device reports the configuration it applied on."""
    return f"{device_prefix(tenant, device_id)}/shadow/update"


def shadow_delta_topic(tenant: str, device_id: str) -> str:
    """Return the (retained) topic the cloud publishes the desired configuration on."""
    return f"{device_prefix(tenant, device_id)}/shadow/delta"


def shadow_result_topic(tenant: str, device_id: str, accepted: bool) -> str:
    """Return the topic the device answers a desired configuration on (accepted or rejected)."""
    return f"{device_prefix(tenant, device_id)}/shadow/update/{'accepted' if accepted else 'rejected'}"


def command_topic(tenant: str, device_id: str, command_id: str) -> str:
    """Return the topic a command to a device is sent on."""
    return f"{device_prefix(tenant, device_id)}/cmd/{command_id}"


def command_result_topic(tenant: str, device_id: str, command_id: str) -> str:
    """Return the topic a device answers a command on."""
    return f"{command_topic(tenant, device_id, command_id)}/result"


def alert_topic(tenant: str, device_id: str) -> str:
    """Return the topic the cloud tells a device how its caregiver alert is going on (signed, QoS 1, not retained)."""
    return f"{device_prefix(tenant, device_id)}/alert"


def ingest_subscription(kind: str) -> str:
    """The shared subscription ingestors use for one kind of device message (e.g. 'sync/up', 'state')."""
    return f"$share/{INGEST_GROUP}/{TOPIC_ROOT}/+/+/{kind}"


def parse_topic(topic: str) -> tuple[str, str, str] | None:
    """Split `papo/v1/{tenant}/{device}/{rest}` into (tenant, device, rest); None for any other topic."""
    parts = topic.split("/", 4)
    if len(parts) != 5 or f"{parts[0]}/{parts[1]}" != TOPIC_ROOT:
        return None
    return parts[2], parts[3], parts[4]


def merge_settings(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """The desired-state rule both ends follow: `changes` overlay `base`, section by section."""
    merged = dict(base)
    for key, value in changes.items():
        nested = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = merge_settings(merged[key], value) if nested else value
    return merged


class WireModel(BaseModel):
    """Base of every payload: strict about unknown fields and frozen once built."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class StageTimings(WireModel):
    """How long each stage of one voice turn took, in milliseconds."""

    vad_ms: float | None = Field(default=None, ge=0)
    stt_ms: float | None = Field(default=None, ge=0)
    eos_to_text_ms: float | None = Field(default=None, ge=0)
    eos_to_first_token_ms: float | None = Field(default=None, ge=0)
    eos_to_first_audio_ms: float | None = Field(default=None, ge=0)


class TurnRecord(WireModel):
    """One spoken turn as the device stores it and the cloud receives it."""

    schema_version: Literal[1] = PROTOCOL_VERSION
    device_id: DeviceId
    conversation_id: str = Field(min_length=1, max_length=64)
    turn_id: TurnId
    seq: int = Field(ge=0, le=MAX_BIGINT)
    role: Literal["person", "companion"]
    text: str = Field(max_length=MAX_TEXT_CHARS)
    language: str = Field(min_length=2, max_length=8)
    started_at: datetime
    audio_duration_s: float = Field(ge=0)
    timings: StageTimings
    stt_model: str | None = Field(default=None, max_length=64)
    reply_to: str | None = Field(default=None, max_length=64)
    llm_model: str | None = Field(default=None, max_length=64)
    interrupted: bool = False


class WellbeingRecord(WireModel):
    """A wellbeing event for the caregiver channel."""

    kind: str = Field(min_length=1, max_length=32)
    severity: Literal["low", "medium", "high", "critical"]
    evidence: str = Field(max_length=500)
    source: Literal["rules", "crew"]
    turn_id: str | None = Field(default=None, max_length=64)
    created_at: datetime


class Tombstone(WireModel):
    """A privacy deletion replicated to the cloud: everything of the device before this row's seq, or some turns.

    `all_history` erases the device's turns, wellbeing events and dead letters sent before it (a lower seq);
    `turns` erases the listed turns and the wellbeing events about them. The cloud confirms in `SyncAck.erased`.
    """

    scope: Literal["all_history", "turns"]
    turn_ids: list[TurnId] = Field(default_factory=list, max_length=MAX_BATCH_ITEMS)
    requested_at: datetime


class WellbeingOk(WireModel):
    """The person said they are all right ("estou bem") while the caregiver alert of a wellbeing item was open.

    `msg_id` names that wellbeing item (the alert's `msg_id`); the cloud keeps it for the caregivers already warned.
    It carries no words: only which event, and when the device heard it.
    """

    msg_id: MessageId = Field(description="The wellbeing outbox item whose alert this answers")
    said_at: AwareDatetime


class OutboxItem(WireModel):
    """One outbox row on the wire: an idempotency key, the device's order, and what it carries."""

    msg_id: MessageId
    seq: int = Field(ge=0, le=MAX_BIGINT, description="Per-device order of outbox rows")
    kind: Literal["turn", "wellbeing", "tombstone", "wellbeing_ok"]
    turn: TurnRecord | None = None
    wellbeing: WellbeingRecord | None = None
    tombstone: Tombstone | None = None
    wellbeing_ok: WellbeingOk | None = None


class _BatchHead(WireModel):
    """What identifies a batch: its device and its id."""

    schema_version: Literal[1] = PROTOCOL_VERSION
    device_id: DeviceId
    batch_id: MessageId


class SyncBatch(_BatchHead):
    """A device's batch of outbox rows (QoS 1 on `sync/up`), at most MAX_BATCH_ITEMS and MAX_PAYLOAD_BYTES."""

    items: list[OutboxItem] = Field(min_length=1, max_length=MAX_BATCH_ITEMS)


class BatchEnvelope(_BatchHead):
    """A batch read with its items unchecked: how the cloud rejects bad items one by one and keeps the rest."""

    items: list[Any] = Field(min_length=1)


def wire_bytes(model: BaseModel) -> int:
    """The size in bytes of `model`'s wire JSON (what `model_dump_json()` publishes)."""
    return len(model.model_dump_json().encode())


def split_items(
    items: Sequence[OutboxItem], max_bytes: int = MAX_PAYLOAD_BYTES, max_items: int = MAX_BATCH_ITEMS
) -> list[list[OutboxItem]]:
    """Cut `items` (in order) into runs that each make a SyncBatch the cloud accepts (items and bytes).

    An item too large for any batch goes alone: the cloud rejects it with the reason and the device drops it.
    """
    runs: list[list[OutboxItem]] = []
    size = 0
    for item in items:
        grown = wire_bytes(item) + 1  # and its comma
        if not runs or len(runs[-1]) >= max_items or size + grown > max_bytes - _BATCH_ENVELOPE_BYTES:
            runs.append([])
            size = 0
        runs[-1].append(item)
        size += grown
    return runs


class Rejected(WireModel):
    """An item the cloud will never accept, and why (it is dead-lettered; the device drops it)."""

    msg_id: MessageId
    reason: str = Field(max_length=500)


class SyncAck(WireModel):
    """Sent on `sync/ack` only after the PostgreSQL commit: these rows are durable in the cloud.

    `erased` names tombstone rows whose erasure the cloud has finished everywhere (PostgreSQL and the Redis
    live view). It comes in the ack of the tombstone's batch, or later in an ack of its own (a fresh
    `batch_id`, nothing acked) when the live view could only be cleaned after a Redis outage. Acks without
    erasures leave the field out, as before it existed.
    """

    schema_version: Literal[1] = PROTOCOL_VERSION
    batch_id: MessageId
    acked: list[MessageId] = Field(default_factory=list, max_length=MAX_BATCH_ITEMS)
    rejected: list[Rejected] = Field(default_factory=list, max_length=MAX_BATCH_ITEMS)
    erased: list[MessageId] = Field(
        default_factory=list, max_length=MAX_BATCH_ITEMS, description="Tombstone rows whose erasure is complete"
    )

    def wire(self) -> str:
        """The JSON to publish: `erased` only when there is something in it."""
        return self.model_dump_json(exclude=None if self.erased else {"erased"})


class Presence(WireModel):
    """Retained on `state`: the birth ('online') and the last will ('offline') carry the session number."""

    schema_version: Literal[1] = PROTOCOL_VERSION
    state: Literal["online", "offline"]
    session_seq: int = Field(ge=0, le=MAX_BIGINT)
    version: str | None = Field(default=None, max_length=32)
    at: datetime | None = None


class Telemetry(WireModel):
    """Periodic device health."""

    schema_version: Literal[1] = PROTOCOL_VERSION
    at: datetime
    cpu_pct: float = Field(ge=0)
    memory_pct: float = Field(ge=0, le=100)
    disk_pct: float = Field(ge=0, le=100)
    temperature_c: float | None = None
    version: str = Field(max_length=32)
    outbox_depth: int = Field(ge=0, le=MAX_INT)
    last_sync_at: datetime | None = None
    pipeline_state: str | None = Field(default=None, max_length=64)
    health: str | None = Field(default=None, pattern=r"^(ok|degraded|failed)$", description="The /health verdict")
    health_reasons: list[Annotated[str, Field(max_length=MAX_REASON_CHARS)]] = Field(
        default_factory=list, max_length=MAX_HEALTH_REASONS, description="Why degraded or failed (no mic, disk full…)"
    )


class DesiredState(WireModel):
    """The configuration the cloud wants (on `shadow/delta`, retained): versioned, applied only if newer."""

    schema_version: Literal[1] = PROTOCOL_VERSION
    version: int = Field(ge=1, le=MAX_INT)
    settings: JsonObject


class ReportedState(WireModel):
    """What the device applied (on `shadow/update`), or why it refused a desired version."""

    schema_version: Literal[1] = PROTOCOL_VERSION
    version: int = Field(ge=0, le=MAX_INT)
    settings: JsonObject = Field(default_factory=dict)
    accepted: bool = True
    reason: str | None = Field(default=None, max_length=500)
    restart_needed: list[Annotated[str, Field(max_length=200)]] = Field(
        default_factory=list, max_length=200, description="Accepted keys that take effect at the next start"
    )
    held_locally: list[Annotated[str, Field(max_length=200)]] = Field(
        default_factory=list, max_length=200, description="Keys the owner's local settings hold: they win over these"
    )


class CommandName(StrEnum):
    """The commands the fleet can send a device; on the wire, the strings themselves."""

    PING = "ping"
    RESTART_PIPELINE = "restart-pipeline"
    DELETE_HISTORY = "delete-history"
    SYNC_NOW = "sync-now"
    FORGET_MEMORIES = "forget-memories"


class Command(WireModel):
    """A command to one device; the result goes to `cmd/{command_id}/result`."""

    schema_version: Literal[1] = PROTOCOL_VERSION
    command_id: MessageId
    name: CommandName
    args: JsonObject = Field(default_factory=dict)
    expires_at: datetime | None = None


class CommandResult(WireModel):
    """A device's answer to a command."""

    schema_version: Literal[1] = PROTOCOL_VERSION
    command_id: MessageId
    ok: bool
    detail: str = Field(default="", max_length=2000)
    data: JsonObject = Field(default_factory=dict)


class AlertState(StrEnum):
    """Where a caregiver alert stands; the device speaks only from this (never claims more than it says)."""

    DELIVERING = "delivering"  # the alert exists; no caregiver has received it yet
    DELIVERED = "delivered"  # a caregiver's channel took it (SMTP server, webhook 2xx, ntfy)
    ACKNOWLEDGED = "acknowledged"  # a caregiver (or an operator) confirmed having seen it
    FAILED = "failed"  # every channel tried so far gave up; escalation goes on
    NO_CAREGIVERS = "no_caregivers"  # the tenant has nobody to warn


class AlertUpdate(WireModel):
    """On `alert` (cloud → device, signed): one step of the caregiver alert a wellbeing item raised.

    `seq` orders the updates of one alert: the device keeps the highest it has seen. `caregiver` is the name of
    the person the alert reached (delivered) or who saw it (acknowledged; absent when an operator acknowledged).
    """

    schema_version: Literal[1] = PROTOCOL_VERSION
    alert_id: MessageId
    msg_id: MessageId = Field(description="The wellbeing outbox item this alert answers")
    seq: int = Field(ge=1, le=MAX_BIGINT)
    state: AlertState
    caregiver: str | None = Field(default=None, min_length=1, max_length=80)
    at: AwareDatetime

    @model_validator(mode="after")
    def _named_when_reached(self) -> AlertUpdate:
        """A delivered alert names who it reached; only delivered or acknowledged ones name anybody."""
        if self.state == AlertState.DELIVERED and self.caregiver is None:
            raise ValueError("a delivered alert names the caregiver it reached")
        if self.caregiver is not None and self.state not in (AlertState.DELIVERED, AlertState.ACKNOWLEDGED):
            raise ValueError(f"a {self.state.value} alert names no caregiver")
        return self


MAX_SIGNED_BODY_CHARS = 200_000  # a signed body holds one desired state or command (settings are small)
_BASE64_SIGNATURE = r"^[A-Za-z0-9+/]{86}==$"  # 64 bytes of Ed25519 signature


class SignedBody(WireModel):
    """What the fleet signs: one desired state, command or alert update, for one device, valid for a while, in order.

    `sequence` orders the fleet's requests of one kind to one device: a desired state's version; a command's
    issue time in microseconds; an alert update's `seq` (per alert). The device refuses a desired state not newer
    than the last, a command id it has seen or an expired command (papo_sync.device.gate), and an alert update
    not newer than the last of its alert.
    """

    kind: Literal["desired", "command", "alert"]
    tenant: DeviceId
    device_id: DeviceId
    issued_at: AwareDatetime
    expires_at: AwareDatetime
    sequence: int = Field(ge=0, le=MAX_BIGINT)
    desired: DesiredState | None = None
    command: Command | None = None
    alert: AlertUpdate | None = None

    @model_validator(mode="after")
    def _one_request(self) -> SignedBody:
        """Exactly the request `kind` names, and a validity that ends after it begins."""
        carried = {"desired": self.desired, "command": self.command, "alert": self.alert}
        if [name for name, value in carried.items() if value is not None] != [self.kind]:
            raise ValueError(f"a {self.kind} body carries exactly one {self.kind}")
        if self.expires_at <= self.issued_at:
            raise ValueError("expires_at must be after issued_at")
        return self


class SignedMessage(WireModel):
    """On `shadow/delta`, `cmd/{id}` and `alert`: a SignedBody as JSON and the fleet key's Ed25519 signature of it.

    The signature (base64) covers `papo_sync.signing.DOMAIN` followed by the UTF-8 bytes of `body`, exactly as
    sent: the device checks the bytes it received, then parses them; nothing is serialised again.
    """

    schema_version: Literal[1] = PROTOCOL_VERSION
    body: str = Field(min_length=2, max_length=MAX_SIGNED_BODY_CHARS)
    signature: str = Field(pattern=_BASE64_SIGNATURE)
    key_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{16}$", description="Which fleet key signed it")

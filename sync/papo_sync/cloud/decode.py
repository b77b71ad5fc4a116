"""Turn raw MQTT messages into what must be written and acknowledged; anything bad becomes a dead letter."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from papo_sync.protocol import (
    MAX_PAYLOAD_BYTES,
    CommandResult,
    OutboxItem,
    Presence,
    Rejected,
    ReportedState,
    SyncAck,
    SyncBatch,
    Telemetry,
    parse_topic,
)


@dataclass(frozen=True)
class RawMessage:
    """One MQTT message as the ingestor received it."""

    topic: str
    payload: bytes
    received_at: datetime


@dataclass
class DeadLetter:
    """A message the cloud cannot use, kept with the reason."""

    topic: str
    device_id: str | None
    reason: str
    payload: str


@dataclass
class PendingAck:
    """An application ack to publish once the batch's rows are committed."""

    tenant: str
    device_id: str
    ack: SyncAck


@dataclass
class Plan:
    """Everything one ingest round writes, in one transaction, and then acknowledges."""

    turns: list[dict[str, Any]] = field(default_factory=list)
    wellbeing: list[dict[str, Any]] = field(default_factory=list)
    tombstones: list[dict[str, Any]] = field(default_factory=list)
    presence: list[tuple[str, str, Presence, datetime]] = field(default_factory=list)
    telemetry: list[tuple[str, str, Telemetry, datetime]] = field(default_factory=list)
    reported: list[tuple[str, ReportedState, datetime]] = field(default_factory=list)
    results: list[tuple[str, CommandResult, datetime]] = field(default_factory=list)
    seen: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    dead: list[DeadLetter] = field(default_factory=list)
    acks: list[PendingAck] = field(default_factory=list)


_MODELS: dict[str, type[BaseModel]] = {
    "sync/up": SyncBatch, "state": Presence, "telemetry": Telemetry, "shadow/update": ReportedState,
}  # fmt: skip
_NUL_ESCAPE = b"\\u0000"
_NUL_REASON = "a NUL character (\\u0000) cannot be stored"


def _model(kind: str) -> type[BaseModel] | None:
    """The payload model of a message kind; None for an unknown kind."""
    if kind.startswith("cmd/") and kind.endswith("/result"):
        return CommandResult
    return _MODELS.get(kind)


def _reason(exc: ValidationError) -> str:
    first = exc.errors()[0]
    if first.get("type") == "json_invalid":
        return f"not JSON: {first.get('msg')}"
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"invalid payload: {where or 'body'}: {first.get('msg')} ({exc.error_count()} problem(s))"


def _load(model: type[BaseModel], payload: bytes) -> Any:
    return model.model_validate_json(payload)


def plan(messages: list[RawMessage]) -> Plan:
    """Decode and validate `messages` into one Plan (pure: no I/O; the only time is each message's `received_at`)."""
    result = Plan()
    for message in messages:
        _decode(message, result)
    return result


def _decode(message: RawMessage, result: Plan) -> None:
    parsed = parse_topic(message.topic)
    device = parsed[1] if parsed is not None else None

    def dead(reason: str) -> None:
        text = message.payload[:4000].decode("utf-8", errors="replace")
        result.dead.append(DeadLetter(message.topic, device, reason, text))

    if parsed is None:
        dead("not a papo/v1 device topic")
        return
    tenant, device_id, kind = parsed
    if len(message.payload) > MAX_PAYLOAD_BYTES:
        dead(f"payload of {len(message.payload)} bytes is over the {MAX_PAYLOAD_BYTES}-byte limit")
        return
    model = _model(kind)
    if model is None:
        dead(f"unknown message kind {kind!r}")
        return
    try:
        body = _load(model, message.payload)
    except ValidationError as exc:
        dead(_reason(exc))
        return
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
        dead(f"not JSON: {exc}")
        return
    # PostgreSQL cannot store a NUL character, and one in a row would fail the whole round: JSON can carry it
    # only escaped, so only a payload with that escape is looked at closely (a batch item by item)
    nul = _NUL_ESCAPE in message.payload
    if isinstance(body, SyncBatch):
        _sync_batch(tenant, device_id, body, message, result, dead, nul)
    elif nul and _has_nul(body.model_dump()):
        dead(_NUL_REASON)
        return
    elif isinstance(body, Presence):
        result.presence.append((tenant, device_id, body, message.received_at))
    elif isinstance(body, Telemetry):
        result.telemetry.append((tenant, device_id, body, message.received_at))
    elif isinstance(body, ReportedState):
        result.reported.append((device_id, body, message.received_at))
    else:
        result.results.append((device_id, body, message.received_at))
    result.seen[device_id] = (tenant, message.received_at)


def _sync_batch(
    tenant: str,
    device_id: str,
    batch: SyncBatch,
    message: RawMessage,
    result: Plan,
    dead: Callable[[str], None],
    nul: bool = False,
) -> None:
    if batch.device_id != device_id:
        dead(f"payload names device {batch.device_id!r} but was published by {device_id!r}")
        rejected = [Rejected(msg_id=i.msg_id, reason="device_id does not match the publisher") for i in batch.items]
        result.acks.append(PendingAck(tenant, device_id, SyncAck(batch_id=batch.batch_id, rejected=rejected)))
        return
    acked: list[str] = []
    rejected = []
    for item in batch.items:
        if nul and _has_nul(item.model_dump()):
            problem: str | None = _NUL_REASON
        else:
            problem = _row(device_id, item, message.received_at, result)
        if problem is None:
            acked.append(item.msg_id)
        else:
            rejected.append(Rejected(msg_id=item.msg_id, reason=problem))
            dead(f"item {item.msg_id}: {problem}")
    result.acks.append(PendingAck(tenant, device_id, SyncAck(batch_id=batch.batch_id, acked=acked, rejected=rejected)))


def _has_nul(value: Any) -> bool:
    """Whether a dumped model holds a NUL character in any string, at any depth."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


def _row(device_id: str, item: OutboxItem, received_at: datetime, result: Plan) -> str | None:
    """Add one item's row to the plan; the reason it cannot be stored, if any."""
    key = {"device_id": device_id, "msg_id": item.msg_id, "seq": item.seq}
    if item.kind == "turn":
        turn = item.turn
        if turn is None:
            return "a turn item without its turn"
        if turn.device_id != device_id:
            return f"turn names device {turn.device_id!r}"
        result.turns.append(
            key | {
                "conversation_id": turn.conversation_id, "turn_id": turn.turn_id, "role": turn.role,
                "text": turn.text, "language": turn.language, "started_at": turn.started_at,
                "audio_duration_s": turn.audio_duration_s, "timings": turn.timings.model_dump_json(),
                "stt_model": turn.stt_model, "llm_model": turn.llm_model, "reply_to": turn.reply_to,
                "interrupted": turn.interrupted, "received_at": received_at,
            }
        )  # fmt: skip
        return None
    if item.kind == "wellbeing":
        event = item.wellbeing
        if event is None:
            return "a wellbeing item without its event"
        result.wellbeing.append(
            key | {
                "kind": event.kind, "severity": event.severity, "evidence": event.evidence, "source": event.source,
                "turn_id": event.turn_id, "created_at": event.created_at, "received_at": received_at,
            }
        )  # fmt: skip
        return None
    tombstone = item.tombstone
    if tombstone is None:
        return "a tombstone item without its tombstone"
    result.tombstones.append(
        key | {
            "scope": tombstone.scope, "turn_ids": json.dumps(tombstone.turn_ids),
            "requested_at": tombstone.requested_at, "applied_at": received_at, "completed_at": None,
            "late_dropped": 0,
        }
    )  # fmt: skip
    return None

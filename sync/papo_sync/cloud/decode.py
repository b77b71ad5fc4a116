"""Turn raw MQTT messages into what must be written and acknowledged; anything bad becomes a dead letter."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, ValidationError
from pydantic_core import from_json

from papo_sync.protocol import (
    MAX_BATCH_ITEMS,
    MAX_PAYLOAD_BYTES,
    BatchEnvelope,
    CommandResult,
    OutboxItem,
    Presence,
    Rejected,
    ReportedState,
    SyncAck,
    Telemetry,
    parse_topic,
    valid_id,
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

    @classmethod
    def of(cls, topic: str, device_id: str | None, reason: str, payload: bytes) -> DeadLetter:
        """A dead letter PostgreSQL always takes: NUL-free, bounded text, a device id only if it is a valid one."""
        text = payload[:_KEPT_CHARS].decode("utf-8", errors="replace")
        device = device_id if device_id is not None and valid_id(device_id) else None
        return cls(_clip(topic, _KEPT_CHARS), device, _clip(reason, _KEPT_CHARS), text.replace("\x00", ""))


def _clip(text: str, limit: int) -> str:
    """`text` without NUL characters, cut to `limit` characters."""
    text = text.replace("\x00", "")
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
    wellbeing_ok: list[dict[str, Any]] = field(default_factory=list)
    tombstones: list[dict[str, Any]] = field(default_factory=list)
    presence: list[tuple[str, str, Presence, datetime]] = field(default_factory=list)
    telemetry: list[tuple[str, str, Telemetry, datetime]] = field(default_factory=list)
    reported: list[tuple[str, ReportedState, datetime]] = field(default_factory=list)
    results: list[tuple[str, CommandResult, datetime]] = field(default_factory=list)
    seen: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    dead: list[DeadLetter] = field(default_factory=list)
    acks: list[PendingAck] = field(default_factory=list)


_Dead = Callable[..., None]

_MODELS: dict[str, type[BaseModel]] = {
    "state": Presence, "telemetry": Telemetry, "shadow/update": ReportedState,
}  # fmt: skip
_NUL_ESCAPE = b"\\u0000"
_BACKSLASH = ord("\\")
_KEPT_CHARS = 4000  # of a dead letter's payload, topic and reason
_REJECTED_REASON_CHARS = 500  # Rejected.reason's bound
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
    named = parsed is not None and valid_id(parsed[0]) and valid_id(parsed[1])
    device = parsed[1] if parsed is not None and named else None

    def dead(reason: str, payload: bytes | None = None) -> None:
        result.dead.append(
            DeadLetter.of(message.topic, device, reason, message.payload if payload is None else payload)
        )

    if parsed is None:
        dead("not a papo/v1 device topic")
        return
    if not named:
        dead("the topic's tenant or device id is not 1 to 64 letters, digits, '_' or '-'")
        return
    tenant, device_id, kind = parsed
    if kind == "sync/up":
        _sync_up(tenant, device_id, message, result, dead)
        return
    if len(message.payload) > MAX_PAYLOAD_BYTES:
        dead(_oversized(message.payload))
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
    if _NUL_ESCAPE in message.payload and _has_nul(body.model_dump()):
        dead(_NUL_REASON)
        return
    if isinstance(body, Presence):
        result.presence.append((tenant, device_id, body, message.received_at))
    elif isinstance(body, Telemetry):
        result.telemetry.append((tenant, device_id, body, message.received_at))
    elif isinstance(body, ReportedState):
        result.reported.append((device_id, body, message.received_at))
    else:
        result.results.append((device_id, body, message.received_at))
    result.seen[device_id] = (tenant, message.received_at)


def _oversized(payload: bytes) -> str:
    return f"payload of {len(payload)} bytes is over the {MAX_PAYLOAD_BYTES}-byte limit"


class _BatchAsSent(BatchEnvelope):
    """A batch whose valid items are validated and whose invalid ones are kept as sent, in one pass.

    The union tries OutboxItem first and falls back to the item as parsed, so a batch with a few bad items costs
    about what a clean one does (no second validation of the good ones, no Python call per item).
    """

    items: list[Annotated[OutboxItem | Any, Field(union_mode="left_to_right")]] = Field(
        min_length=1, max_length=MAX_BATCH_ITEMS
    )


def _sync_up(tenant: str, device_id: str, message: RawMessage, result: Plan, dead: _Dead) -> None:
    """A batch: its valid items become rows; every other item is rejected in the ack, so the device drops it.

    The whole batch is rejected (each of its items named in the ack) when it is over the limits of bytes or
    items or names another device; only a payload without a readable batch id is a dead letter alone.
    """
    whole: str | None = _oversized(message.payload) if len(message.payload) > MAX_PAYLOAD_BYTES else None
    batch: _BatchAsSent | BatchEnvelope
    try:
        if whole is not None:
            raise ValueError(whole)
        batch = _BatchAsSent.model_validate_json(message.payload)
        verdicts = [(item, item, None) if isinstance(item, OutboxItem) else _verdict(item) for item in batch.items]
    except ValueError as exc:  # ValidationError too: read the envelope alone, to reject the batch item by item
        try:  # (the broker bounds the size)
            body = from_json(message.payload)
        except ValueError as unreadable:
            dead(whole or f"not JSON: {unreadable}")
            return
        try:
            batch = BatchEnvelope.model_validate(body)
        except ValidationError as envelope:
            dead(whole or _reason(envelope))
            return
        if whole is None and len(batch.items) > MAX_BATCH_ITEMS:
            whole = f"batch of {len(batch.items)} items is over the {MAX_BATCH_ITEMS}-item limit"
        elif whole is None:
            whole = _reason(exc) if isinstance(exc, ValidationError) else str(exc)
        verdicts = []
    result.seen[device_id] = (tenant, message.received_at)
    answer: str | None = whole
    if batch.device_id != device_id:
        whole = f"payload names device {batch.device_id!r} but was published by {device_id!r}"
        answer = "device_id does not match the publisher"
    if whole is not None:
        dead(whole)
        ids = [i for i in (_msg_id(raw) for raw in batch.items) if i is not None]
        rejected = [_rejected(i, answer or whole) for i in dict.fromkeys(ids)]
        result.acks.extend(_acks(tenant, device_id, batch.batch_id, [], rejected))
        return
    # PostgreSQL cannot store a NUL character, and one in a row would fail the whole round: JSON carries it only
    # escaped, so only the items of a payload with that escape are looked at, until every escape is accounted for
    nuls = _nul_escapes(message.payload)
    acked: list[str] = []
    refused: list[Rejected] = []
    for raw, item, problem in verdicts:
        if nuls and item is not None and problem is None and (found := _nuls(item)):
            nuls, problem = max(0, nuls - found), _NUL_REASON
        if item is not None and problem is None:
            problem = _row(device_id, item, message.received_at, result)
        if problem is None and item is not None:
            acked.append(item.msg_id)
            continue
        msg_id = _msg_id(raw)
        dead(f"item {msg_id}: {problem}", _json(raw))
        if msg_id is not None:
            refused.append(_rejected(msg_id, str(problem)))
    result.acks.extend(_acks(tenant, device_id, batch.batch_id, acked, refused))


_Verdict = tuple[Any, OutboxItem | None, str | None]  # an item as sent, as validated, why it cannot be stored


def _nuls(item: OutboxItem) -> int:
    """How many NUL characters `item` holds (its JSON escapes each one)."""
    return _nul_escapes(item.model_dump_json().encode())


def _nul_escapes(text: bytes) -> int:
    """How many NUL escapes (a backslash, then `u0000`) JSON text holds; an escaped backslash before `u0000` is text."""
    count, at = 0, text.find(_NUL_ESCAPE)
    while at != -1:
        start = at
        while start > 0 and text[start - 1] == _BACKSLASH:
            start -= 1
        count += (at - start) % 2 == 0  # an even run of backslashes before it: they escape each other, not it
        at = text.find(_NUL_ESCAPE, at + 1)
    return count


def _verdict(raw: Any) -> _Verdict:
    try:
        return raw, OutboxItem.model_validate(raw), None
    except ValidationError as exc:
        return raw, None, _reason(exc)


def _msg_id(raw: OutboxItem | Any) -> str | None:
    """The msg_id a (possibly invalid) item can be named by in an ack; None when it has no usable one."""
    value = raw.msg_id if isinstance(raw, OutboxItem) else raw.get("msg_id") if isinstance(raw, dict) else None
    return value if isinstance(value, str) and 1 <= len(value) <= 64 and "\x00" not in value else None


def _json(raw: OutboxItem | Any) -> bytes:
    if isinstance(raw, OutboxItem):
        return raw.model_dump_json().encode()
    return json.dumps(raw, ensure_ascii=False, default=str).encode(errors="replace")


def _rejected(msg_id: str, reason: str) -> Rejected:
    return Rejected(msg_id=msg_id, reason=_clip(reason, _REJECTED_REASON_CHARS))


def _acks(tenant: str, device_id: str, batch_id: str, acked: list[str], refused: list[Rejected]) -> list[PendingAck]:
    """The acks of one batch: one, or as many as it takes to name every item within an ack's bounds."""
    step = MAX_BATCH_ITEMS
    return [
        PendingAck(tenant, device_id, SyncAck(batch_id=batch_id, acked=acked[n:m], rejected=refused[n:m]))
        for n, m in ((n, n + step) for n in range(0, max(len(acked), len(refused), 1), step))
    ]


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
    if item.kind == "wellbeing_ok":
        fine = item.wellbeing_ok
        if fine is None:
            return "a wellbeing_ok item without its update"
        result.wellbeing_ok.append(
            key | {"event_msg_id": fine.msg_id, "said_at": fine.said_at, "received_at": received_at}
        )
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

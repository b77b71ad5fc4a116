"""The sync outbox: rows written in the same transaction as the change they carry, drained by the sync agent.

Rows are sent urgent first: wellbeing events and "estou bem" updates (what a caregiver alert is made of) go
before every other row, then the rest in seq order. Each row keeps its seq (the cloud's order of the device's
changes, which erasure relies on); only the sending order changes.

While the cloud is away the outbox is capped (`sync.outbox_max_rows`, `sync.outbox_max_mb` of payload). Drop
order when a write takes it over the cap: the oldest ordinary turns first, one by one, until it fits again;
wellbeing events, "estou bem" updates and erasure requests (tombstones) are never dropped, even if they alone
exceed the cap. Each drop is counted (`OutboxRepository.dropped`, on /health) and logged, without the words.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Connection, LargeBinary, case, cast, event
from sqlmodel import Session, col, delete, func, select, update

from papo.settings import SyncSettings
from papo.store.database import Database
from papo.store.ids import new_id
from papo.store.kinds import OutboxKind, Role
from papo.store.records import utc_now
from papo.store.tables import ErasureRow, OutboxRow, TurnRow, WellbeingEventRow
from papo.system.logging import fields
from papo_sync.protocol import OutboxItem, StageTimings, Tombstone, TurnRecord, WellbeingOk, WellbeingRecord

log = logging.getLogger(__name__)
_MB = 1_000_000

_PAYLOADS: dict[OutboxKind, type[BaseModel]] = {
    OutboxKind.TURN: TurnRecord,
    OutboxKind.WELLBEING: WellbeingRecord,
    OutboxKind.TOMBSTONE: Tombstone,
    OutboxKind.WELLBEING_OK: WellbeingOk,
}
URGENT = (OutboxKind.WELLBEING, OutboxKind.WELLBEING_OK)
"""The kinds sent before every other row: what a caregiver alert is made of."""


def turn_row(turn: TurnRow, device_id: str) -> OutboxRow:
    """The outbox row carrying `turn`."""
    record = TurnRecord(
        device_id=device_id,
        conversation_id=turn.conversation_id,
        turn_id=turn.id,
        seq=turn.seq,
        role="companion" if turn.role == Role.COMPANION else "person",
        text=turn.text,
        language=turn.language[:8] if len(turn.language) >= 2 else "pt",
        started_at=turn.started_at,
        audio_duration_s=turn.audio_duration_s,
        timings=StageTimings(
            vad_ms=turn.vad_ms, stt_ms=turn.stt_ms, eos_to_text_ms=turn.eos_to_text_ms,
            eos_to_first_token_ms=turn.eos_to_first_token_ms, eos_to_first_audio_ms=turn.eos_to_first_audio_ms,
        ),
        stt_model=turn.stt_model or None,
        reply_to=turn.reply_to,
        llm_model=turn.llm_model,
        interrupted=turn.interrupted,
    )  # fmt: skip
    return _row(OutboxKind.TURN, record)


def wellbeing_row(event: WellbeingEventRow) -> OutboxRow:
    """The outbox row carrying a wellbeing event to the caregiver channel; its msg_id is the event's id.

    The cloud's alert names the event by this msg_id, so the device finds the event an AlertUpdate is about.
    """
    record = WellbeingRecord.model_validate(
        {"kind": event.kind, "severity": event.severity, "evidence": event.evidence[:500], "source": event.source,
         "turn_id": event.turn_id, "created_at": event.created_at}
    )  # fmt: skip
    return _row(OutboxKind.WELLBEING, record, msg_id=event.id)


def wellbeing_ok_row(event_msg_id: str) -> OutboxRow:
    """The outbox row telling the cloud the person said they are all right after the wellbeing event `event_msg_id`."""
    return _row(OutboxKind.WELLBEING_OK, WellbeingOk(msg_id=event_msg_id, said_at=utc_now()))


def tombstone_row(scope: str, turn_ids: list[str]) -> OutboxRow:
    """The outbox row replicating a privacy deletion."""
    record = Tombstone.model_validate({"scope": scope, "turn_ids": turn_ids, "requested_at": utc_now()})
    return _row(OutboxKind.TOMBSTONE, record)


def _row(kind: OutboxKind, record: BaseModel, msg_id: str | None = None) -> OutboxRow:
    return OutboxRow(msg_id=msg_id or new_id(), kind=kind.value, payload=record.model_dump_json(), created_at=utc_now())


def _item(row: OutboxRow) -> OutboxItem:
    assert row.seq is not None
    kind = OutboxKind(row.kind)
    payload = _PAYLOADS[kind].model_validate_json(row.payload)
    return OutboxItem.model_validate({"msg_id": row.msg_id, "seq": row.seq, "kind": kind.value, kind.value: payload})


@dataclass(frozen=True)
class OutboxCap:
    """How much the outbox may hold while the cloud is away: rows, and bytes of payload."""

    max_rows: int
    max_bytes: int

    @classmethod
    def of(cls, sync: SyncSettings) -> OutboxCap:
        """The cap the sync settings set."""
        return cls(sync.outbox_max_rows, int(sync.outbox_max_mb * _MB))


_ADDED = "papo.outbox_added"  # set on the connection by an insert into the outbox, until the cap is checked


@event.listens_for(OutboxRow, "after_insert")
def _mark_added(mapper: object, connection: Connection, target: OutboxRow) -> None:
    connection.info[_ADDED] = True


def _size() -> ColumnElement[int]:
    """A row's payload in bytes."""
    return func.length(cast(OutboxRow.payload, LargeBinary))


class OutboxRepository:
    """The sync agent's view of the outbox (papo_sync.device.agent.OutboxSource), kept under its cap."""

    def __init__(self, database: Database, cap: OutboxCap | None = None) -> None:
        self._db = database
        self.cap = cap or OutboxCap.of(SyncSettings())
        self.dropped = 0
        database.on_write(self._trim_if_added)

    def _trim_if_added(self, session: Session) -> None:
        if session.connection().info.pop(_ADDED, False):
            self._trim(session)

    def _trim(self, session: Session) -> None:
        """Drop the oldest ordinary turns until the outbox fits its cap (never wellbeing events or tombstones)."""
        rows, size = session.exec(select(func.count(), func.coalesce(func.sum(_size()), 0))).one()
        extra_rows, extra_bytes = int(rows) - self.cap.max_rows, int(size) - self.cap.max_bytes
        if extra_rows <= 0 and extra_bytes <= 0:
            return
        ordinary = col(OutboxRow.kind) == OutboxKind.TURN.value
        query = select(col(OutboxRow.seq), _size()).where(ordinary).order_by(col(OutboxRow.seq))
        count, cutoff = 0, None
        for seq, length in session.exec(query):
            if extra_rows <= 0 and extra_bytes <= 0:
                break
            count, cutoff = count + 1, seq
            extra_rows, extra_bytes = extra_rows - 1, extra_bytes - int(length)
        if cutoff is None:
            return
        session.exec(delete(OutboxRow).where(ordinary, col(OutboxRow.seq) <= cutoff))
        self.dropped += count
        log.warning("outbox over its cap; oldest turns dropped", extra=fields(dropped=count, total=self.dropped))

    def pending(self, limit: int, exclude: set[str]) -> list[OutboxItem]:
        """The rows not in flight, as wire items: the urgent kinds (URGENT) first, then the rest, each by seq."""
        urgent = case((col(OutboxRow.kind).in_([k.value for k in URGENT]), 0), else_=1)
        with self._db.transaction("read the outbox") as session:
            query = select(OutboxRow).order_by(urgent, col(OutboxRow.seq)).limit(limit + len(exclude))
            rows = [r for r in session.exec(query).all() if r.msg_id not in exclude][:limit]
        return [_item(row) for row in rows]

    def delete(self, msg_ids: list[str]) -> int:
        """Remove rows the cloud acknowledged."""
        if not msg_ids:
            return 0
        with self._db.transaction("delete synced rows from the outbox") as session:
            result = session.exec(delete(OutboxRow).where(col(OutboxRow.msg_id).in_(msg_ids)))
            return int(result.rowcount or 0)

    def confirm_erasures(self, msg_ids: list[str]) -> int:
        """Record that the cloud erased its copy for these tombstones; how many of them this device asked for."""
        if not msg_ids:
            return 0
        with self._db.transaction("record the cloud's erasures") as session:
            known = session.exec(select(func.count()).where(col(ErasureRow.id).in_(msg_ids))).one()
            session.exec(
                update(ErasureRow)
                .where(col(ErasureRow.id).in_(msg_ids), col(ErasureRow.confirmed_at).is_(None))
                .values(confirmed_at=utc_now())
            )
            return int(known)

    def depth(self) -> int:
        """Rows waiting."""
        with self._db.transaction("count the outbox") as session:
            return int(session.exec(select(func.count()).select_from(OutboxRow)).one())

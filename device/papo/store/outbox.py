"""The sync outbox: rows written with the change they carry, read and deleted by the sync agent."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, func
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from papo.errors import StoreError
from papo.store.ids import new_id
from papo.store.tables import OutboxRow, Turn, WellbeingEvent
from papo_sync.protocol import OutboxItem, StageTimings, Tombstone, TurnRecord, WellbeingRecord


def turn_row(turn: Turn, device_id: str) -> OutboxRow:
    """The outbox row carrying `turn`."""
    record = TurnRecord(
        device_id=device_id,
        conversation_id=turn.conversation_id,
        turn_id=turn.id,
        seq=turn.seq,
        role="companion" if turn.role == "companion" else "person",
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
    return _row("turn", record.model_dump_json())


def wellbeing_row(event: WellbeingEvent) -> OutboxRow:
    """The outbox row carrying a wellbeing event to the caregiver channel."""
    record = WellbeingRecord(
        kind=event.kind, severity=event.severity, evidence=event.evidence[:500],
        source=event.source, turn_id=event.turn_id, created_at=event.created_at,
    )  # fmt: skip
    return _row("wellbeing", record.model_dump_json())


def tombstone_row(scope: str, turn_ids: list[str]) -> OutboxRow:
    """The outbox row replicating a privacy deletion."""
    record = Tombstone(scope=scope, turn_ids=turn_ids, requested_at=datetime.now(UTC))
    return _row("tombstone", record.model_dump_json())


def _row(kind: str, payload: str) -> OutboxRow:
    return OutboxRow(msg_id=new_id(), kind=kind, payload=payload, created_at=datetime.now(UTC))


class Outbox:
    """The agent's view of the outbox (papo_sync.device.agent.OutboxSource)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def pending(self, limit: int, exclude: set[str]) -> list[OutboxItem]:
        """The oldest rows not in flight, as wire items."""
        try:
            with Session(self._engine) as session:
                query = select(OutboxRow).order_by(col(OutboxRow.seq)).limit(limit + len(exclude))
                rows = [r for r in session.exec(query).all() if r.msg_id not in exclude][:limit]
        except (SQLAlchemyError, sqlite3.Error) as exc:
            raise StoreError(f"cannot read the outbox: {exc}") from None
        return [_item(row) for row in rows]

    def delete(self, msg_ids: list[str]) -> int:
        """Remove rows the cloud acknowledged."""
        if not msg_ids:
            return 0
        with Session(self._engine) as session, session.begin():
            result = session.exec(delete(OutboxRow).where(col(OutboxRow.msg_id).in_(msg_ids)))
            return int(result.rowcount or 0)

    def depth(self) -> int:
        """Rows waiting."""
        with Session(self._engine) as session:
            return int(session.exec(select(func.count()).select_from(OutboxRow)).one())


def _item(row: OutboxRow) -> OutboxItem:
    assert row.seq is not None
    field = {"turn": "turn", "wellbeing": "wellbeing", "tombstone": "tombstone"}[row.kind]
    return OutboxItem.model_validate_json(
        f'{{"msg_id": "{row.msg_id}", "seq": {row.seq}, "kind": "{row.kind}", "{field}": {row.payload}}}'
    )

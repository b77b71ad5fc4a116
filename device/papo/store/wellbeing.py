"""Wellbeing events, each queued for the caregiver channel with its outbox row."""

from __future__ import annotations

from sqlmodel import col, select

from papo.store.database import Database
from papo.store.ids import new_id
from papo.store.kinds import EventSource, Severity
from papo.store.outbox import wellbeing_ok_row, wellbeing_row
from papo.store.records import WellbeingEvent, utc_now
from papo.store.tables import WellbeingEventRow
from papo.store.turns import require_turn


class WellbeingRepository:
    """Record and list wellbeing events; mark them seen."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def add(
        self, kind: str, severity: Severity, evidence: str, source: EventSource, turn_id: str | None
    ) -> WellbeingEvent:
        """Record a wellbeing event and queue it for the caregiver channel in the same transaction.

        ErasedTurnError if the turn it came from was erased meanwhile (a late review of an erased turn).
        """
        row = WellbeingEventRow(
            id=new_id(), turn_id=turn_id, kind=kind, severity=severity.value, evidence=evidence,
            source=source.value, created_at=utc_now(),
        )  # fmt: skip
        with self._db.transaction("record a wellbeing event") as session:
            require_turn(session, turn_id)
            session.add(row)
            session.add(wellbeing_row(row))
        return WellbeingEvent.model_validate(row)

    def said_fine(self, event_id: str) -> None:
        """Queue for the cloud that the person said they are all right after event `event_id` (its alert's msg_id)."""
        with self._db.transaction("queue a wellbeing update") as session:
            session.add(wellbeing_ok_row(event_id))

    def all(self) -> list[WellbeingEvent]:
        """Wellbeing events, newest first."""
        query = select(WellbeingEventRow).order_by(col(WellbeingEventRow.created_at).desc())
        with self._db.transaction("read wellbeing events") as session:
            return [WellbeingEvent.model_validate(row) for row in session.exec(query).all()]

    def mark_seen(self, event_id: str, who: str) -> WellbeingEvent | None:
        """Record that `who` saw an event (the first time only counts); None if there is no such event."""
        with self._db.transaction("mark a wellbeing event seen") as session:
            row = session.get(WellbeingEventRow, event_id)
            if row is None:
                return None
            if row.seen_at is None:
                row.seen_at, row.seen_by = utc_now(), who[:64]
                session.add(row)
                session.flush()
            return WellbeingEvent.model_validate(row)

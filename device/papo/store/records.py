"""The companion's records in the device store: memories, reminders and wellbeing events."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, delete, select

from papo.errors import StoreError
from papo.store.ids import new_id
from papo.store.outbox import wellbeing_row
from papo.store.tables import Memory, Reminder, WellbeingEvent

T = TypeVar("T")


def utc_now() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


class CompanionRecords:
    """Short transactions on the memory, reminder and wellbeingevent tables."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @contextmanager
    def _session(self) -> Iterator[Session]:
        try:
            with Session(self._engine, expire_on_commit=False) as session, session.begin():
                yield session
        except (SQLAlchemyError, sqlite3.Error) as exc:
            raise StoreError(f"cannot use the store: {str(getattr(exc, 'orig', exc)).splitlines()[0]}") from None

    def _add(self, row: T) -> T:
        with self._session() as session:
            session.add(row)
        return row

    # memories
    def add_memory(self, text: str, kind: str, turn_id: str | None) -> Memory:
        """Keep one memory."""
        return self._add(Memory(id=new_id(), turn_id=turn_id, kind=kind, text=text, created_at=utc_now()))

    def memories(self) -> list[Memory]:
        """Every memory, oldest first."""
        with self._session() as session:
            return list(session.exec(select(Memory).order_by(col(Memory.created_at))).all())

    def delete_memory(self, memory_id: str) -> bool:
        """Forget one memory; False if there was none with this id."""
        with self._session() as session:
            row = session.get(Memory, memory_id)
            if row is None:
                return False
            session.delete(row)
            return True

    def delete_all_memories(self) -> int:
        """Forget every memory; how many there were."""
        with self._session() as session:
            count = len(session.exec(select(Memory.id)).all())
            session.exec(delete(Memory))
            return count

    # reminders
    def add_reminder(self, what: str, due_at: datetime, turn_id: str | None) -> Reminder:
        """Keep a reminder due at `due_at` (UTC)."""
        return self._add(Reminder(id=new_id(), turn_id=turn_id, what=what, due_at=due_at, created_at=utc_now()))

    def due_reminders(self, now: datetime) -> list[Reminder]:
        """Pending reminders due at or before `now` (UTC), oldest first."""
        with self._session() as session:
            query = (
                select(Reminder)
                .where(Reminder.status == "pending", col(Reminder.due_at) <= now)
                .order_by(col(Reminder.due_at))
            )
            return list(session.exec(query).all())

    def mark_spoken(self, reminder_id: str) -> None:
        """Record that a reminder was spoken."""
        with self._session() as session:
            row = session.get(Reminder, reminder_id)
            if row is not None:
                row.status, row.spoken_at = "spoken", utc_now()
                session.add(row)

    def reminders(self, include_done: bool = False) -> list[Reminder]:
        """Reminders by due time (pending ones only unless `include_done`)."""
        with self._session() as session:
            query = select(Reminder).order_by(col(Reminder.due_at))
            if not include_done:
                query = query.where(Reminder.status == "pending")
            return list(session.exec(query).all())

    # wellbeing
    def add_wellbeing(
        self, kind: str, severity: str, evidence: str, source: str, turn_id: str | None
    ) -> WellbeingEvent:
        """Record a wellbeing event, queued for the caregiver channel."""
        event = WellbeingEvent(
            id=new_id(), turn_id=turn_id, kind=kind, severity=severity, evidence=evidence, source=source,
            created_at=utc_now(),
        )  # fmt: skip
        with self._session() as session:
            session.add(event)
            session.add(wellbeing_row(event))  # queued for the caregiver channel in the same transaction
        return event

    def wellbeing_events(self, queued_only: bool = False) -> list[WellbeingEvent]:
        """Wellbeing events, newest first (only those not yet taken by the caregiver channel if `queued_only`)."""
        with self._session() as session:
            query = select(WellbeingEvent).order_by(col(WellbeingEvent.created_at).desc())
            if queued_only:
                query = query.where(col(WellbeingEvent.notified_at).is_(None))
            return list(session.exec(query).all())

"""Reminders the person asked for, spoken when due."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select

from papo.store.database import Database
from papo.store.ids import new_id
from papo.store.kinds import ReminderStatus
from papo.store.records import Reminder, utc_now
from papo.store.tables import ReminderRow


class ReminderRepository:
    """Add, list, and mark reminders spoken or missed."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def add(self, what: str, due_at: datetime, turn_id: str | None) -> Reminder:
        """Keep a reminder due at `due_at`."""
        row = ReminderRow(id=new_id(), turn_id=turn_id, what=what, due_at=due_at, created_at=utc_now())
        with self._db.transaction("keep a reminder") as session:
            session.add(row)
        return Reminder.model_validate(row)

    def due(self, now: datetime) -> list[Reminder]:
        """Pending reminders due at or before `now` (UTC), oldest first."""
        query = (
            select(ReminderRow)
            .where(ReminderRow.status == ReminderStatus.PENDING.value, col(ReminderRow.due_at) <= now)
            .order_by(col(ReminderRow.due_at))
        )
        with self._db.transaction("read reminders") as session:
            return [Reminder.model_validate(row) for row in session.exec(query).all()]

    def mark_spoken(self, reminder_id: str) -> None:
        """Record that a reminder was spoken."""
        with self._db.transaction("update a reminder") as session:
            row = session.get(ReminderRow, reminder_id)
            if row is not None:
                row.status, row.spoken_at = ReminderStatus.SPOKEN.value, utc_now()
                session.add(row)

    def mark_missed(self, reminder_ids: list[str]) -> None:
        """Record, in one transaction, that these reminders were missed (mentioned at most, never said in time)."""
        query = select(ReminderRow).where(col(ReminderRow.id).in_(reminder_ids))
        with self._db.transaction("update reminders") as session:
            for row in session.exec(query).all():
                row.status = ReminderStatus.MISSED.value
                session.add(row)

    def all(self, include_done: bool = False) -> list[Reminder]:
        """Reminders by due time (pending ones only unless `include_done`: then also spoken, missed, cancelled)."""
        query = select(ReminderRow).order_by(col(ReminderRow.due_at))
        if not include_done:
            query = query.where(ReminderRow.status == ReminderStatus.PENDING.value)
        with self._db.transaction("read reminders") as session:
            return [Reminder.model_validate(row) for row in session.exec(query).all()]

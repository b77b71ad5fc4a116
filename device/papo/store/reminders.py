"""Reminders the person asked for (or a caregiver set on the web page), spoken when due.

A repeating reminder (daily, weekly) is re-armed in place when it is said or found missed: it stays pending, due
at its next occurrence after now, at the same local wall-clock time (so a daylight-saving change keeps 08:00).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import col, delete, select

from papo.store.database import Database
from papo.store.ids import new_id
from papo.store.kinds import ReminderRepeat, ReminderStatus
from papo.store.records import Reminder, utc_now
from papo.store.tables import ReminderRow

_STEP = {ReminderRepeat.DAILY: timedelta(days=1), ReminderRepeat.WEEKLY: timedelta(days=7)}


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def next_due(due_at: datetime, repeat: ReminderRepeat, now: datetime) -> datetime:
    """The first occurrence after `now` of a reminder due at `due_at` and repeating `repeat`, in UTC.

    Steps are taken on the local wall clock (a naive local time, given back to the system's time zone rules).
    """
    step = _STEP[repeat]
    wall = _aware(due_at).astimezone().replace(tzinfo=None)
    behind = (now - _aware(due_at)) // step if now > _aware(due_at) else 0
    candidate = wall + step * max(1, behind)
    while candidate.astimezone(UTC) <= now:
        candidate += step
    return candidate.astimezone(UTC)


def _rearm(row: ReminderRow, now: datetime) -> bool:
    """Move a repeating reminder to its next occurrence (still pending); False for a one-off."""
    repeat = ReminderRepeat(row.repeat)
    if repeat is ReminderRepeat.NONE:
        return False
    row.due_at = next_due(row.due_at, repeat, now)
    row.status = ReminderStatus.PENDING.value
    return True


class ReminderRepository:
    """Add, edit, remove and list reminders; mark them spoken or missed (re-arming the repeating ones)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def add(
        self, what: str, due_at: datetime, turn_id: str | None, repeat: ReminderRepeat = ReminderRepeat.NONE
    ) -> Reminder:
        """Keep a reminder due at `due_at` (and again every day or week, if `repeat`)."""
        row = ReminderRow(
            id=new_id(), turn_id=turn_id, what=what, due_at=due_at, created_at=utc_now(), repeat=repeat.value
        )
        with self._db.transaction("keep a reminder") as session:
            session.add(row)
        return Reminder.model_validate(row)

    def get(self, reminder_id: str) -> Reminder | None:
        """One reminder, or None."""
        with self._db.transaction("read a reminder") as session:
            row = session.get(ReminderRow, reminder_id)
            return None if row is None else Reminder.model_validate(row)

    def update(self, reminder_id: str, what: str, due_at: datetime, repeat: ReminderRepeat) -> Reminder | None:
        """Change what a reminder says, when, and how often; it is pending again. None if there is no such one."""
        with self._db.transaction("change a reminder") as session:
            row = session.get(ReminderRow, reminder_id)
            if row is None:
                return None
            row.what, row.due_at, row.repeat = what, due_at, repeat.value
            row.status = ReminderStatus.PENDING.value
            session.add(row)
            session.flush()
            return Reminder.model_validate(row)

    def remove(self, reminder_id: str) -> bool:
        """Delete a reminder; False if there was no such one."""
        with self._db.transaction("remove a reminder") as session:
            return bool(session.exec(delete(ReminderRow).where(col(ReminderRow.id) == reminder_id)).rowcount)

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
        """Record that a reminder was spoken; a repeating one is due again at its next occurrence."""
        with self._db.transaction("update a reminder") as session:
            row = session.get(ReminderRow, reminder_id)
            if row is not None:
                row.spoken_at = utc_now()
                if not _rearm(row, row.spoken_at):
                    row.status = ReminderStatus.SPOKEN.value
                session.add(row)

    def mark_missed(self, reminder_ids: list[str]) -> None:
        """Record, in one transaction, that these reminders were missed (mentioned at most, never said in time).

        A repeating one is due again at its next occurrence.
        """
        query = select(ReminderRow).where(col(ReminderRow.id).in_(reminder_ids))
        now = utc_now()
        with self._db.transaction("update reminders") as session:
            for row in session.exec(query).all():
                if not _rearm(row, now):
                    row.status = ReminderStatus.MISSED.value
                session.add(row)

    def all(self, include_done: bool = False) -> list[Reminder]:
        """Reminders by due time (pending ones only unless `include_done`: then also spoken, missed, cancelled)."""
        query = select(ReminderRow).order_by(col(ReminderRow.due_at))
        if not include_done:
            query = query.where(ReminderRow.status == ReminderStatus.PENDING.value)
        with self._db.transaction("read reminders") as session:
            return [Reminder.model_validate(row) for row in session.exec(query).all()]

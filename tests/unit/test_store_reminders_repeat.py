"""Reminders a caregiver edits and removes, and repeating ones re-armed when said or missed (issue 13)."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from papo.store import ReminderRepeat, ReminderStatus, Store, utc_now
from papo.store.reminders import next_due


@pytest.fixture
def store(state_dir: Path) -> Iterator[Store]:
    with Store(state_dir / "papo.sqlite3", "dev-1", 300) as opened:
        yield opened


def test_the_migration_adds_repeat_and_seen_columns(store: Store, state_dir: Path) -> None:
    with closing(sqlite3.connect(state_dir / "papo.sqlite3")) as db:
        reminder = {row[1] for row in db.execute("PRAGMA table_info(reminder)")}
        event = {row[1] for row in db.execute("PRAGMA table_info(wellbeingevent)")}
    assert "repeat" in reminder and {"seen_at", "seen_by"} <= event


def test_a_daily_reminder_said_is_due_again_tomorrow_at_the_same_time(store: Store) -> None:
    due = utc_now() - timedelta(minutes=1)
    reminder = store.reminders.add("tomar o remédio da pressão", due, None, ReminderRepeat.DAILY)
    assert [r.id for r in store.reminders.due(utc_now())] == [reminder.id]

    store.reminders.mark_spoken(reminder.id)

    again = store.reminders.get(reminder.id)
    assert again is not None
    assert again.status is ReminderStatus.PENDING and again.spoken_at is not None
    assert again.due_at == due + timedelta(days=1)
    assert store.reminders.due(utc_now()) == []  # not said twice today


def test_a_one_off_reminder_said_is_done(store: Store) -> None:
    reminder = store.reminders.add("ligar para a Júlia", utc_now() - timedelta(minutes=1), None)
    store.reminders.mark_spoken(reminder.id)
    done = store.reminders.get(reminder.id)
    assert done is not None and done.status is ReminderStatus.SPOKEN and done.repeat is ReminderRepeat.NONE
    assert store.reminders.all() == []


def test_a_weekly_reminder_missed_for_weeks_comes_back_at_its_next_occurrence(store: Store) -> None:
    due = utc_now() - timedelta(days=20, minutes=5)
    weekly = store.reminders.add("pôr o lixo para fora", due, None, ReminderRepeat.WEEKLY)
    once = store.reminders.add("regar as plantas", due, None)

    store.reminders.mark_missed([weekly.id, once.id])

    again, missed = store.reminders.get(weekly.id), store.reminders.get(once.id)
    assert again is not None and missed is not None
    assert again.status is ReminderStatus.PENDING and again.due_at == due + timedelta(days=21)
    assert again.spoken_at is None
    assert missed.status is ReminderStatus.MISSED


def test_next_due_keeps_the_local_wall_clock_time_across_a_daylight_saving_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        due = datetime(2026, 3, 7, 13, 0, tzinfo=UTC)  # 08:00 in New York (EST), the day before clocks go forward
        after = next_due(due, ReminderRepeat.DAILY, due + timedelta(minutes=1))
        assert after == datetime(2026, 3, 8, 12, 0, tzinfo=UTC)  # 08:00 EDT: 23 hours later
        assert after.astimezone().hour == 8
    finally:
        monkeypatch.undo()
        time.tzset()
    assert os.environ.get("TZ") != "America/New_York"


def test_a_reminder_is_edited_and_removed(store: Store) -> None:
    reminder = store.reminders.add("tomar o remédio", utc_now() + timedelta(hours=1), None)
    store.reminders.mark_spoken(reminder.id)
    later = utc_now() + timedelta(days=1)

    edited = store.reminders.update(reminder.id, "tomar o remédio do coração", later, ReminderRepeat.WEEKLY)

    assert edited is not None and edited == store.reminders.get(reminder.id)
    assert (edited.what, edited.due_at, edited.repeat) == ("tomar o remédio do coração", later, ReminderRepeat.WEEKLY)
    assert edited.status is ReminderStatus.PENDING  # a new time: it will be said again
    assert store.reminders.update("no-such-id", "x", later, ReminderRepeat.NONE) is None
    assert store.reminders.remove(reminder.id) is True
    assert store.reminders.get(reminder.id) is None and store.reminders.remove(reminder.id) is False

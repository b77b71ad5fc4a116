"""Repeating reminders through the companion's own reminder loop (issue 13): said once, due again next time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from papo.audio.recorder import RecordingSpeaker
from papo.conversation.phrases import reminder_due, reminder_missed
from papo.store import ReminderRepeat, ReminderStatus, utc_now
from support.companion_rig import Rig


def test_a_daily_reminder_set_on_the_page_is_said_once_and_due_again_tomorrow(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(RecordingSpeaker())
    due = utc_now() - timedelta(seconds=5)
    reminder = rig.store.reminders.add("tomar o remédio da pressão", due, None, ReminderRepeat.DAILY)

    assert rig.companion.speak_due_reminders() == 1
    assert rig.companion.speak_due_reminders() == 0  # not said again today

    assert rig.said() == reminder_due("tomar o remédio da pressão", "pt")
    again = rig.store.reminders.get(reminder.id)
    assert again is not None and again.status is ReminderStatus.PENDING
    assert again.due_at == due + timedelta(days=1) and again.spoken_at is not None


def test_a_weekly_reminder_missed_is_mentioned_and_comes_back_next_week(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(RecordingSpeaker())
    due = utc_now() - timedelta(hours=2)  # past the 30-minute grace: the device was off
    reminder = rig.store.reminders.add("ligar para a Júlia", due, None, ReminderRepeat.WEEKLY)

    assert rig.companion.speak_due_reminders() == 1

    assert rig.said() == reminder_missed("ligar para a Júlia", due.astimezone(), "pt")
    again = rig.store.reminders.get(reminder.id)
    assert again is not None and again.status is ReminderStatus.PENDING and again.due_at == due + timedelta(days=7)
    assert rig.companion.reminders_missed == 1 and rig.companion.speak_due_reminders() == 0

"""Clock jumps and missed reminders (issue 12): no burst of old reminders, said only on a real speaker, which is
reopened with backoff.

The companion runs on a real store with a voice that writes what it says into a journal; the speaker is a test
double of the sound device: present (a recorder), absent (the stand-in the wiring uses without one), or opened
by a factory that fails before it succeeds.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import datetime, time, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from papo.audio.recorder import RecordingSpeaker
from papo.conversation.phrases import reminder_due, reminder_missed
from papo.conversation.runtime import ConversationState
from papo.conversation.spoken_time import at_time
from papo.errors import PapoError
from papo.retry import Backoff
from papo.service import VoiceService
from papo.speech.tts import Speaker
from papo.store import ReminderStatus, Store, utc_now
from support.companion_rig import Rig
from support.wait import wait_until

MEDICINE = ["tomar o remédio", "ligar para a Júlia", "regar as plantas", "dar comida ao gato", "fechar o gás"]


def _statuses(store: Store) -> dict[str, ReminderStatus]:
    return {r.what: r.status for r in store.reminders.all(include_done=True)}


def test_after_a_clock_jump_of_a_day_only_the_latest_missed_reminder_is_mentioned(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig(RecordingSpeaker())
    day_ago = utc_now() - timedelta(days=1)
    for hour, what in enumerate(MEDICINE):  # due a day ago, an hour apart: the clock jumped past them all
        rig.store.reminders.add(what, day_ago + timedelta(hours=hour), None)
    latest = rig.store.reminders.all()[-1]

    assert rig.companion.speak_due_reminders() == 5
    assert rig.said() == reminder_missed("fechar o gás", latest.due_at.astimezone(), "pt")
    assert _statuses(rig.store) == dict.fromkeys(MEDICINE, ReminderStatus.MISSED)
    assert all(r.spoken_at is None for r in rig.store.reminders.all(include_done=True))
    assert rig.companion.reminders_missed == 5
    assert rig.companion.speak_due_reminders() == 0  # mentioned once, never again
    assert rig.said() == reminder_missed("fechar o gás", latest.due_at.astimezone(), "pt")


def test_reminders_within_the_grace_are_said_as_today(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(RecordingSpeaker())
    now = utc_now()
    rig.store.reminders.add("tomar o remédio", now - timedelta(minutes=45), None)  # past the 30 min grace
    rig.store.reminders.add("ligar para a Júlia", now - timedelta(minutes=20), None)  # late, within the grace
    rig.store.reminders.add("regar as plantas", now - timedelta(seconds=1), None)
    rig.store.reminders.add("fechar o gás", now + timedelta(hours=1), None)  # not due yet

    assert rig.companion.speak_due_reminders() == 3
    missed = rig.store.reminders.all(include_done=True)[0]
    late = [reminder_due("ligar para a Júlia", "pt"), reminder_due("regar as plantas", "pt")]
    assert rig.said() == " ".join([reminder_missed("tomar o remédio", missed.due_at.astimezone(), "pt"), *late])
    assert _statuses(rig.store) == {
        "tomar o remédio": ReminderStatus.MISSED, "ligar para a Júlia": ReminderStatus.SPOKEN,
        "regar as plantas": ReminderStatus.SPOKEN, "fechar o gás": ReminderStatus.PENDING,
    }  # fmt: skip
    assert rig.companion.reminders_missed == 1


def test_the_grace_is_a_setting(make_rig: Callable[..., Rig], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPO_CONVERSATION__REMINDER_GRACE_MIN", "120")
    rig = make_rig(RecordingSpeaker())
    assert rig.settings.conversation.reminder_grace_min == 120
    rig.store.reminders.add("tomar o remédio", utc_now() - timedelta(minutes=45), None)
    assert rig.companion.speak_due_reminders() == 1
    assert rig.said() == reminder_due("tomar o remédio", "pt")


def test_with_no_speaker_nothing_is_said_or_marked_until_one_plays(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(RecordingSpeaker(keep=False))  # the stand-in the wiring uses when there is no speaker
    assert not rig.companion.output.has_speaker
    rig.store.reminders.add("tomar o remédio", utc_now() - timedelta(minutes=1), None)

    assert rig.companion.speak_due_reminders() == 0
    assert rig.said() == ""  # not voiced into the void
    assert _statuses(rig.store) == {"tomar o remédio": ReminderStatus.PENDING}  # still due

    speaker = RecordingSpeaker()
    rig.companion.output.use(speaker)
    assert rig.companion.output.has_speaker
    assert rig.companion.speak_due_reminders() == 1
    assert rig.said() == reminder_due("tomar o remédio", "pt") and len(speaker.take()) > 0
    assert _statuses(rig.store) == {"tomar o remédio": ReminderStatus.SPOKEN}


def test_the_missed_reminder_phrase_says_the_time_in_words() -> None:
    eight = datetime(2026, 11, 30, 8, 0)
    pt, en = reminder_missed("tomar o remédio", eight, "pt"), reminder_missed("take the medicine", eight, "en")
    assert pt == "Você tinha um lembrete às oito horas: tomar o remédio."
    assert en == "You had a reminder at eight o'clock: take the medicine."


@pytest.mark.parametrize(
    ("at", "pt", "en"),
    [
        (time(8, 0), "às oito horas", "at eight o'clock"),
        (time(8, 30), "às oito e meia", "at eight thirty"),
        (time(1, 0), "à uma hora", "at one o'clock"),
        (time(13, 15), "às treze e quinze", "at one fifteen"),
        (time(12, 0), "ao meio-dia", "at noon"),
        (time(0, 0), "à meia-noite", "at midnight"),
        (time(21, 0), "às vinte e uma horas", "at nine o'clock"),
        (time(22, 5), "às vinte e duas horas e cinco", "at ten oh five"),
        (time(19, 42), "às dezenove e quarenta e dois", "at seven forty-two"),
    ],
)
def test_times_of_day_in_words(at: time, pt: str, en: str) -> None:
    assert (at_time(at, "pt"), at_time(at, "en")) == (pt, en)


def test_the_backoff_doubles_up_to_its_ceiling_and_starts_over_after_a_success() -> None:
    backoff = Backoff(max_s=5.0)
    assert [backoff.next() for _ in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    backoff.reset()
    assert backoff.next() == 1.0
    assert Backoff(max_s=0.25).next() == 0.25


class ClosingRecorder(RecordingSpeaker):
    """A recorder that notes being closed."""

    closed = False

    def close(self) -> None:
        self.closed = True


class BrokenSpeaker(ClosingRecorder):
    """A speaker that opened, then fails when played on (unplugged)."""

    def play(self, samples: Any, rate: int) -> bool:
        raise PapoError("output device 'USB speaker' failed: the device was removed")


class FlakySpeakers:
    """A speaker factory following a script ("absent": no device, "broken", "ok"); notes the store at each try."""

    def __init__(self, script: list[str], store: Store) -> None:
        self.script = script
        self.store = store
        self.tries: list[dict[str, ReminderStatus]] = []
        self.opened: list[ClosingRecorder] = []

    def __call__(self) -> Speaker:
        self.tries.append(_statuses(self.store))
        outcome = self.script[len(self.tries) - 1]
        if outcome == "absent":
            raise PapoError("no audio output: no default output device; set audio.output_device")
        speaker = BrokenSpeaker() if outcome == "broken" else ClosingRecorder()
        self.opened.append(speaker)
        return speaker


def _run_reminders_until_said(rig: Rig, speakers: FlakySpeakers) -> None:
    """Run the daemon's reminder loop (its own event loop, in a thread) until the reminder was said, then stop it."""
    runtime = SimpleNamespace(status=SimpleNamespace(state=ConversationState.READY), companion=rig.companion)
    voice = VoiceService(rig.settings, rig.store, conversation=runtime, open_speaker=speakers)  # type: ignore[arg-type]
    loop = threading.Thread(target=asyncio.run, args=(voice.run_reminders(),), name="reminders")
    loop.start()
    try:
        wait_until(lambda: _statuses(rig.store)["tomar o remédio"] is ReminderStatus.SPOKEN, 10, "the reminder said")
    finally:
        voice.stop()
        loop.join(timeout=10)
    assert not loop.is_alive()


def test_the_speaker_is_reopened_with_backoff_and_then_reminders_play(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(RecordingSpeaker(keep=False), retry_max_s=0.05)  # short waits: the test does not sit through 1 s
    rig.store.reminders.add("tomar o remédio", utc_now() - timedelta(minutes=1), None)
    speakers = FlakySpeakers(["absent", "absent", "ok"], rig.store)
    _run_reminders_until_said(rig, speakers)
    assert speakers.tries == [{"tomar o remédio": ReminderStatus.PENDING}] * 3  # due all along, while no speaker
    (opened,) = speakers.opened
    assert rig.companion.output.has_speaker
    assert rig.said() == reminder_due("tomar o remédio", "pt") and len(opened.take()) > 0  # played on it
    assert opened.closed  # released when the service stopped


def test_a_speaker_that_breaks_is_replaced_and_the_reminder_said_on_the_new_one(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(RecordingSpeaker(keep=False), retry_max_s=0.05)
    rig.store.reminders.add("tomar o remédio", utc_now() - timedelta(minutes=1), None)
    speakers = FlakySpeakers(["broken", "absent", "ok"], rig.store)
    _run_reminders_until_said(rig, speakers)
    broken, working = speakers.opened
    assert speakers.tries[1:] == [{"tomar o remédio": ReminderStatus.PENDING}] * 2  # not marked when it failed
    assert broken.closed and len(working.take()) > 0 and working.closed
    assert rig.said().endswith(reminder_due("tomar o remédio", "pt"))


def test_no_speaker_is_opened_while_one_plays(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig(RecordingSpeaker(), retry_max_s=0.05)
    rig.store.reminders.add("tomar o remédio", utc_now() - timedelta(minutes=1), None)
    speakers = FlakySpeakers([], rig.store)
    _run_reminders_until_said(rig, speakers)
    assert speakers.tries == []

"""No fault silences an emergency (issue 12): the urgent answer comes before any write, and every write after it
is tried even when the ones before failed; a full disk, a corrupt file and an overflowing outbox are survived.

The companion runs on a real store (SQLite in the test's state directory) with a voice and a store that write
into one journal, so a test can tell what was said and what was stored, in which order.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from papo.cache import AudioCache
from papo.conversation.companion import Companion
from papo.conversation.crew import CrewRuntime
from papo.conversation.llm import ChatMessage
from papo.conversation.phrases import urgent_reply
from papo.conversation.speech_output import SpeechOutput
from papo.conversation.turn import decide
from papo.conversation.wellbeing import assess
from papo.errors import StoreError, StoreFullError
from papo.settings import load_settings
from papo.speech.tts import CachedVoice
from papo.store import EventSource, Severity, Store, utc_now
from papo.store.database import integrity_problem, is_full
from papo.store.outbox import OutboxCap
from support.fakes import JournalVoice, NullSpeaker
from support.pipeline_fakes import new_turn

FALL = "Papo, socorro, eu caí no banheiro!"
CHAT = "Papo, hoje eu fiz um bolo de fubá."
REPLY = "Que delícia de bolo."


class Chat:
    """A ChatClient that answers REPLY."""

    model = "fake-llm"

    def stream(self, messages: list[ChatMessage], max_tokens: int, temperature: float, **_: object) -> Iterator[str]:
        yield REPLY


@dataclass
class Rig:
    """A companion on a journaled store; `fail` names the store writes that raise, and with which error."""

    store: Store
    companion: Companion
    journal: list[str]
    fail: dict[str, StoreError]


@pytest.fixture
def rig(state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    settings = load_settings(conversation={"crew": False, "review_after_idle_s": 0})
    store = Store(settings.store_path, settings.device_id)
    journal: list[str] = []
    fail: dict[str, StoreError] = {}

    def journaled(name: str, write: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            journal.append(f"store {name}")
            if name in fail:
                raise fail[name]
            return write(*args, **kwargs)

        return run

    for repository, name in ((store.turns, "record"), (store.wellbeing, "add"), (store.reminders, "add")):
        label = f"{type(repository).__name__}.{name}"
        monkeypatch.setattr(repository, name, journaled(label, getattr(repository, name)))
    output = SpeechOutput(CachedVoice(JournalVoice(journal), AudioCache(None, "tts")), NullSpeaker())
    crew = CrewRuntime("http://127.0.0.1:9/v1", "none", enabled=False)
    companion = Companion(settings, store, output, Chat, lambda: None, crew)
    yield Rig(store, companion, journal, fail)
    companion.close()
    store.close()


def _heard(text: str) -> Any:
    return decide(new_turn(text), "mic", 100.0, load_settings(), None)


SIGN = assess(FALL)
assert SIGN is not None
URGENT = urgent_reply(SIGN, "pt")


def test_an_urgent_answer_is_said_before_anything_is_stored(rig: Rig) -> None:
    admitted = _heard(FALL)
    assert admitted.addressed and admitted.kept and admitted.heard.turn_id is None  # decided, not written yet
    outcome = rig.companion.respond(admitted.heard, admitted.addressed)
    assert outcome.reply == URGENT
    assert rig.journal == [
        f"said {URGENT}", "store TurnRepository.record", "store WellbeingRepository.add", "store TurnRepository.record",
    ]  # fmt: skip
    person, reply = rig.store.turns.all()
    (event,) = rig.store.wellbeing.all()
    assert (person.text, reply.text, reply.reply_to) == (FALL, URGENT, person.id)
    assert event.turn_id == person.id and event.evidence == "socorro"


@pytest.mark.parametrize(
    "error",
    [StoreFullError("the disk is full"), StoreError("attempt to write a readonly database")],
    ids=["disk full", "read-only"],
)
def test_a_store_that_fails_never_silences_an_emergency(
    rig: Rig, error: StoreError, caplog: pytest.LogCaptureFixture
) -> None:
    rig.fail.update({"TurnRepository.record": error, "WellbeingRepository.add": error})
    admitted = _heard(FALL)
    with caplog.at_level(logging.INFO):
        outcome = rig.companion.respond(admitted.heard, admitted.addressed)
    assert outcome.reply == URGENT and outcome.wellbeing is not None
    assert rig.journal[0] == f"said {URGENT}"
    assert rig.journal.count("store TurnRepository.record") == 2  # the reply was still tried after the turn failed
    assert "store WellbeingRepository.add" in rig.journal
    messages = [record.getMessage() for record in caplog.records if record.levelno == logging.ERROR]
    assert messages == ["turn not stored", "wellbeing event not stored", "reply not stored"]


def test_an_ordinary_reply_still_comes_when_nothing_can_be_stored(rig: Rig) -> None:
    rig.fail["TurnRepository.record"] = StoreFullError("the disk is full")
    admitted = _heard(CHAT)
    outcome = rig.companion.respond(admitted.heard, admitted.addressed)
    assert outcome.reply == REPLY and not outcome.fallback


def test_a_reminder_that_cannot_be_stored_is_not_promised(rig: Rig) -> None:
    rig.fail["ReminderRepository.add"] = StoreFullError("the disk is full")
    admitted = _heard("Papo, me lembra de tomar o remédio às oito horas.")
    outcome = rig.companion.respond(admitted.heard, admitted.addressed)
    assert outcome.reply == REPLY  # the model's answer, not "vou te lembrar"


def test_when_saying_the_urgent_answer_fails_the_sign_is_still_recorded(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(text: str) -> Any:
        raise RuntimeError("no voice")

    monkeypatch.setattr(rig.companion.output.voice, "speak", broken)
    admitted = _heard(FALL)
    outcome = rig.companion.respond(admitted.heard, admitted.addressed)
    assert outcome.reply is None
    (event,) = rig.store.wellbeing.all()
    assert event.kind == "emergency" and [t.text for t in rig.store.turns.all()] == [FALL]


def _limit_pages(store: Store, pages: int) -> None:
    """Make SQLite answer SQLITE_FULL beyond `pages` pages, as on a full disk (new connections only)."""
    engine = store._db._engine
    engine.dispose()
    event.listen(engine, "connect", lambda connection, _: connection.execute(f"PRAGMA max_page_count={pages}"))


def test_a_full_disk_is_told_apart_and_clears_once_a_write_succeeds(state_dir: Path) -> None:
    with Store(state_dir / "papo.sqlite3", "dev-1") as store:
        store.turns.record(new_turn("primeira"), "mic")
        pages = store._db._engine.connect().exec_driver_sql("PRAGMA page_count").scalar()
        _limit_pages(store, int(pages or 1))
        with pytest.raises(StoreFullError, match="disk is full"):
            store.turns.record(new_turn("x" * 20_000), "mic")
        assert store.status.full and store.status.failures == 1
        assert len(store.turns.all()) == 1  # reads still work
        assert store.status.full  # a read does not clear it
        _limit_pages(store, 1_000_000)
        store.turns.record(new_turn("segunda"), "mic")
        assert not store.status.full


def test_is_full_reads_sqlite_and_os_errors() -> None:
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE t (x)")
    connection.execute("PRAGMA max_page_count=2")
    with pytest.raises(sqlite3.DatabaseError) as caught:
        connection.execute("INSERT INTO t VALUES (?)", ("x" * 50_000,))
    assert is_full(caught.value)
    assert is_full(OSError(28, "No space left on device"))
    assert not is_full(sqlite3.OperationalError("database is locked"))


def test_the_outbox_drops_the_oldest_turns_first_never_wellbeing_events_or_tombstones(state_dir: Path) -> None:
    with Store(state_dir / "papo.sqlite3", "dev-1", outbox_cap=OutboxCap(max_rows=4, max_bytes=10_000_000)) as store:
        store.wellbeing.add("emergency", Severity.CRITICAL, "socorro", EventSource.RULES, None)
        first = store.turns.record(new_turn("a primeira"), "mic")
        store.erasures.erase_turns(first.id)  # a tombstone: never dropped
        for n in range(5):
            store.turns.record(new_turn(f"turno {n}"), "mic")
        kinds = [item.kind for item in store.outbox.pending(100, set())]
        assert kinds == ["wellbeing", "tombstone", "turn", "turn"]
        texts = [item.turn.text for item in store.outbox.pending(100, set()) if item.turn is not None]
        assert texts == ["turno 3", "turno 4"]
        assert store.outbox.dropped == 3
        assert len(store.turns.all()) == 5  # only the copies waiting for the cloud go; the history stays


def test_the_outbox_cap_counts_bytes_and_never_drops_protected_rows(state_dir: Path) -> None:
    cap = OutboxCap(max_rows=1_000, max_bytes=3_000)
    with Store(state_dir / "papo.sqlite3", "dev-1", outbox_cap=cap) as store:
        for _ in range(3):
            store.wellbeing.add("emergency", Severity.CRITICAL, "s" * 400, EventSource.RULES, None)
        for n in range(6):
            store.turns.record(new_turn(f"{n} " + "palavra " * 60), "mic")
        items = store.outbox.pending(100, set())
        assert [i.kind for i in items].count("wellbeing") == 3
        assert sum(len(i.model_dump_json()) for i in items) < 3_000 + 1_000  # roughly the cap (payload only)
        assert store.outbox.dropped >= 3
        store.outbox.cap = OutboxCap(max_rows=1, max_bytes=1)
        store.wellbeing.add("emergency", Severity.CRITICAL, "socorro", EventSource.RULES, None)
        assert [i.kind for i in store.outbox.pending(100, set())] == ["wellbeing"] * 4


def test_a_file_that_is_not_a_database_is_set_aside_and_a_fresh_store_started(
    state_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = state_dir / "papo.sqlite3"
    path.write_bytes(b"this is not sqlite at all" * 100)
    Path(f"{path}-wal").write_bytes(b"junk")
    with caplog.at_level(logging.ERROR), Store(path, "dev-1") as store:
        quarantined = store.status.quarantined
        assert quarantined is not None and quarantined.name.startswith("papo.sqlite3.corrupt-")
        assert quarantined.read_bytes().startswith(b"this is not sqlite")
        assert Path(f"{quarantined}-wal").read_bytes() == b"junk"
        store.turns.record(new_turn("depois"), "mic")
        assert [t.text for t in store.turns.all()] == ["depois"]
    assert [r.getMessage() for r in caplog.records] == ["store was corrupt; set aside and started fresh"]
    with Store(path, "dev-1") as again:  # the fresh file is sound: opened as it is
        assert again.status.quarantined is None and again.turns.count() == 1


def test_a_damaged_page_is_found_by_the_integrity_check(state_dir: Path) -> None:
    path = state_dir / "papo.sqlite3"
    with Store(path, "dev-1") as store:
        for n in range(200):
            store.turns.record(new_turn(f"turno número {n} " * 5), "mic")
        store._db.seal()  # everything in the main file, the log emptied
    assert integrity_problem(path) is None
    data = bytearray(path.read_bytes())
    page = 4096
    for start in range(2 * page, len(data) - page, page):  # scribble over every b-tree page past the first ones
        data[start : start + 16] = b"\xff" * 16
    path.write_bytes(bytes(data))
    assert integrity_problem(path) is not None
    with Store(path, "dev-1") as store:
        assert store.status.quarantined is not None and store.turns.count() == 0


def test_a_reminder_said_on_a_full_disk_is_not_repeated(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    rig.store.reminders.add("tomar o remédio", utc_now() - timedelta(minutes=1), None)

    def full(reminder_id: str) -> None:
        raise StoreFullError("the disk is full")

    monkeypatch.setattr(rig.store.reminders, "mark_spoken", full)
    assert rig.companion.speak_due_reminders() == 1
    assert rig.companion.speak_due_reminders() == 0
    assert sum("remédio" in line for line in rig.journal) == 1

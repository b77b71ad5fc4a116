"""Erasure at the seams: the store's part (SQLite), the wipe of the index and cache, the service's part, the fleet."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from papo.privacy import fleet as privacy_fleet
from papo.privacy.finish import Wiped, finish
from papo.privacy.presence import ServiceLock, service_running
from papo.privacy.scrub import Scrubber
from papo.privacy.watcher import ErasureWatcher
from papo.settings import load_settings
from papo.store import (
    ErasedTurnError,
    ErasureScope,
    EventSource,
    MemoryKind,
    NewTurn,
    Severity,
    Store,
    Turn,
    companion_turn,
    utc_now,
)
from papo.wiring import Wiring
from papo_sync.protocol import Command, CommandName
from support.wait import wait_until

MARKER = "zorblefrax"


def _said(store: Store, text: str) -> Turn:
    return store.turns.record(
        NewTurn(text=text, language="pt", audio_start_s=0, audio_end_s=1, audio_duration_s=1, stt_model="test",
                stt_window="short", vad_model="test"),
        "mic",
    )  # fmt: skip


def _answer(store: Store, turn: Turn, text: str) -> Turn:
    return store.turns.record(companion_turn(text, "pt", turn.id, "llm", "voice", None, None, False), "mic")


def _everything_from(store: Store, word: str, reminder_due_in_s: float = -60) -> tuple[Turn, Turn]:
    """A turn holding `word`, its answer, a memory, a wellbeing event and a reminder already said, all from it."""
    turn = _said(store, f"Papo, meu gato se chama {word}")
    answer = _answer(store, turn, f"Que nome bonito, {word}!")
    store.memories.add(f"O gato se chama {word}", MemoryKind.FACT, turn.id)
    store.wellbeing.add("loneliness", Severity.LOW, f"sozinha com {word}", EventSource.RULES, turn.id)
    reminder = store.reminders.add(f"dar comida ao {word}", utc_now() + timedelta(seconds=reminder_due_in_s), turn.id)
    if reminder_due_in_s < 0:
        store.reminders.mark_spoken(reminder.id)
    return turn, answer


def _files_holding(directory: Path, word: str) -> list[str]:
    needle = word.encode()
    return sorted(
        str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file() and needle in p.read_bytes()
    )


@pytest.fixture
def store(state_dir: Path) -> Iterator[Store]:
    with Store(state_dir / "papo.sqlite3", "dev-1", 300) as opened:
        yield opened


def test_every_connection_overwrites_what_it_deletes(store: Store, state_dir: Path) -> None:
    with store._db.transaction("check") as session:  # the store's own connections
        assert session.connection().exec_driver_sql("PRAGMA secure_delete").scalar() == 1


def test_erase_all_empties_the_store_keeps_pending_reminders_and_queues_one_tombstone(
    store: Store, state_dir: Path
) -> None:
    _everything_from(store, MARKER)
    pending = store.reminders.add("tomar o remédio", utc_now() + timedelta(hours=1), None)
    earlier = store.erasures.erase_turns(_said(store, "apague isto").id)
    assert earlier is not None
    erasure = store.erasures.erase_all()
    assert (erasure.turns, erasure.conversations, erasure.memories, erasure.wellbeing_events, erasure.reminders) == (
        2, 1, 1, 1, 1
    )  # fmt: skip
    assert erasure.outbox_rows == 3 and erasure.pending_reminders_kept == 1
    assert store.turns.count() == 0 and store.memories.all() == [] and store.wellbeing.all() == []
    assert [r.id for r in store.reminders.all(include_done=True)] == [pending.id]
    queued = store.outbox.pending(10, set())
    assert [(i.kind, i.tombstone.scope if i.tombstone else None) for i in queued] == [
        ("tombstone", "turns"), ("tombstone", "all_history")
    ]  # fmt: skip  # the earlier tombstone is kept: the cloud still has to erase those turns
    assert queued[-1].msg_id == erasure.request.id
    request = store.erasures.get(erasure.request.id)
    assert request is not None and request.scope is ErasureScope.ALL_HISTORY and request.scrubbed_at is None
    assert _files_holding(state_dir, MARKER) == []  # secure_delete, VACUUM and a truncated WAL
    assert (state_dir / "papo.sqlite3-wal").stat().st_size == 0


def test_what_a_late_review_finds_in_an_erased_turn_is_not_kept(store: Store, state_dir: Path) -> None:
    turn = _said(store, f"Papo, meu gato se chama {MARKER}")
    store.erasures.erase_turns(turn.id)
    with pytest.raises(ErasedTurnError):
        store.memories.add(f"O gato se chama {MARKER}", MemoryKind.FACT, turn.id)
    with pytest.raises(ErasedTurnError):
        store.wellbeing.add("loneliness", Severity.LOW, MARKER, EventSource.CREW, turn.id)
    assert store.memories.all() == [] and store.wellbeing.all() == []
    assert [i.kind for i in store.outbox.pending(10, set())] == ["tombstone"]


def test_erase_all_with_reminders_erases_the_pending_ones_too(store: Store) -> None:
    store.reminders.add("tomar o remédio", utc_now() + timedelta(hours=1), None)
    erasure = store.erasures.erase_all(include_reminders=True)
    assert erasure.reminders == 1 and erasure.pending_reminders_kept == 0
    assert store.reminders.all(include_done=True) == []


def test_erase_one_turn_takes_its_answer_and_what_came_from_it_and_nothing_else(store: Store, state_dir: Path) -> None:
    kept, _ = _everything_from(store, "quuxberry", reminder_due_in_s=3600)
    gone, answer = _everything_from(store, MARKER)
    erasure = store.erasures.erase_turns(gone.id)
    assert erasure is not None
    assert (erasure.turns, erasure.memories, erasure.wellbeing_events, erasure.reminders, erasure.outbox_rows) == (
        2, 1, 1, 1, 3
    )  # fmt: skip
    assert erasure.conversations == 0  # the conversation still holds the other turns
    assert _files_holding(state_dir, MARKER) == []
    assert _files_holding(state_dir, "quuxberry") == ["papo.sqlite3"]
    assert [t.text for t in store.turns.all()] == ["Papo, meu gato se chama quuxberry", "Que nome bonito, quuxberry!"]
    tombstone = store.outbox.pending(10, set())[-1]
    assert tombstone.msg_id == erasure.request.id and tombstone.tombstone is not None
    assert tombstone.tombstone.scope == "turns" and sorted(tombstone.tombstone.turn_ids) == sorted([gone.id, answer.id])
    assert store.erasures.erase_turns(kept.id) is not None
    assert [r.what for r in store.reminders.all()] == ["dar comida ao quuxberry"]  # pending: kept
    assert store.turns.conversations() == []  # emptied by the last erasure
    assert store.erasures.erase_turns("no-such-turn") is None


def test_forgetting_memories_asks_for_a_wipe_but_sends_nothing(store: Store, state_dir: Path) -> None:
    first = store.memories.add(f"lembra de {MARKER}", MemoryKind.SAID, None)
    store.memories.add("outra coisa", MemoryKind.FACT, None)
    assert store.erasures.forget_memories(["no-such-memory"]) is None
    erasure = store.erasures.forget_memories([first.id])
    assert erasure is not None and erasure.memories == 1 and erasure.request.scope is ErasureScope.MEMORIES
    assert [m.text for m in store.memories.all()] == ["outra coisa"]
    assert store.outbox.depth() == 0 and _files_holding(state_dir, MARKER) == []
    forgot = store.erasures.forget_memories(None)
    assert forgot is not None and forgot.memories == 1 and store.memories.all() == []


def test_the_cloud_confirms_erasures_it_was_asked_for(store: Store) -> None:
    erasure = store.erasures.erase_all()
    assert store.outbox.confirm_erasures([erasure.request.id, "unknown"]) == 1
    confirmed = store.erasures.get(erasure.request.id)
    assert confirmed is not None and confirmed.confirmed_at is not None
    assert store.outbox.confirm_erasures([erasure.request.id]) == 1  # again: still known, first time kept
    again = store.erasures.get(erasure.request.id)
    assert again is not None and again.confirmed_at == confirmed.confirmed_at
    assert store.outbox.confirm_erasures([]) == 0


class FakeMemory:
    """A memory index that counts its rewrites."""

    def __init__(self) -> None:
        self.scrubs = 0

    def scrub(self) -> None:
        self.scrubs += 1


class FakeCache:
    """A cache that counts its wipes."""

    def __init__(self) -> None:
        self.wipes = 0

    def wipe(self) -> int:
        self.wipes += 1
        return 0


def _scrubber(store: Store, state_dir: Path, memory: FakeMemory, cache: FakeCache) -> Scrubber:
    return Scrubber(store, state_dir / "memory", lambda: cast(Any, memory), lambda: cast(Any, cache))


def test_the_scrubber_wipes_index_and_cache_once_for_all_requests_waiting(store: Store, state_dir: Path) -> None:
    memory, cache = FakeMemory(), FakeCache()
    scrubber = _scrubber(store, state_dir, memory, cache)
    assert scrubber.run_pending() == []
    first, second = store.erasures.erase_all(), store.erasures.erase_all()
    assert [r.id for r in scrubber.run_pending()] == [first.request.id, second.request.id]
    assert (memory.scrubs, cache.wipes) == (1, 1)
    assert store.erasures.unscrubbed() == [] and scrubber.run_pending() == []
    assert all(r.scrubbed_at is not None for r in store.erasures.requests())


def test_the_services_watcher_wipes_what_a_command_asked_for(store: Store, state_dir: Path) -> None:
    memory, cache = FakeMemory(), FakeCache()
    watcher = ErasureWatcher(_scrubber(store, state_dir, memory, cache), poll_s=0.05)
    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_until_complete, args=(watcher.run(),))
    runner.start()
    try:
        erasure = store.erasures.erase_all()
        wait_until(lambda: (r := store.erasures.get(erasure.request.id)) and r.scrubbed_at, 10, "the watcher's wipe")
        assert cache.wipes == 1
    finally:
        loop.call_soon_threadsafe(watcher.stop)
        runner.join(timeout=10)
        loop.close()
    assert not runner.is_alive()


def test_the_service_lock_tells_commands_a_service_runs(state_dir: Path) -> None:
    assert not service_running(state_dir)
    lock = ServiceLock(state_dir)
    assert lock.acquire()
    try:
        assert service_running(state_dir) and not ServiceLock(state_dir).acquire()
    finally:
        lock.release()
    assert not service_running(state_dir)
    assert (state_dir / "service.lock").stat().st_mode & 0o777 == 0o600


def test_a_command_waits_for_the_running_service_and_says_when_it_did_not_finish(state_dir: Path) -> None:
    lock = ServiceLock(state_dir)
    assert lock.acquire()
    noted: list[float] = []
    try:
        with Wiring(load_settings()) as parts:
            store = parts.store()
            erasure = store.erasures.erase_all()
            assert finish(parts, erasure.request, wait_s=0.3, waiting=noted.append) is Wiped.NOT_YET
            store.erasures.mark_scrubbed([erasure.request.id])  # as the service does
            assert finish(parts, erasure.request, wait_s=0.3, waiting=noted.append) is Wiped.BY_SERVICE
    finally:
        lock.release()
    assert noted[0] == 0.0  # told at once that it waits for the service


def test_without_a_service_the_command_wipes_the_cache_and_crew_scratch_itself(state_dir: Path) -> None:
    settings = load_settings()
    with Wiring(settings) as parts:
        cache = parts.cache()
        assert cache is not None
        cache.put("tts", b"reply", MARKER.encode())
        cache.flush()
    (state_dir / "crewai").mkdir()
    (state_dir / "crewai" / "latest_kickoff_task_outputs.db").write_text(f"the last review: {MARKER}")
    with Wiring(settings) as parts:
        erasure = parts.store().erasures.erase_all()
        assert finish(parts, erasure.request) is Wiped.HERE
        assert parts.store().erasures.unscrubbed() == []
    assert _files_holding(state_dir, MARKER) == []


def test_a_cache_held_by_another_command_is_left_for_the_service(state_dir: Path) -> None:
    settings = load_settings()
    with Wiring(settings) as holder:
        assert holder.cache() is not None  # e.g. `papo listen --reply` running
        with Wiring(settings) as parts:
            erasure = parts.store().erasures.erase_all()
            assert finish(parts, erasure.request) is Wiped.BLOCKED
            assert [r.id for r in parts.store().erasures.unscrubbed()] == [erasure.request.id]


def _command(name: CommandName, **args: object) -> Command:
    return Command(command_id="c" * 32, name=name, args=args)


def test_the_fleets_delete_history_checks_its_arguments_and_erases_everything(store: Store, state_dir: Path) -> None:
    memory, cache = FakeMemory(), FakeCache()
    handle = privacy_fleet.delete_history(store, _scrubber(store, state_dir, memory, cache))
    refused = handle(_command(CommandName.DELETE_HISTORY, include_reminders="yes"))
    assert not refused.ok and "include_reminders" in refused.detail
    assert not handle(_command(CommandName.DELETE_HISTORY, everything=True)).ok
    assert store.erasures.requests() == []
    _everything_from(store, MARKER)
    store.reminders.add("tomar o remédio", utc_now() + timedelta(hours=1), None)
    result = handle(_command(CommandName.DELETE_HISTORY, include_reminders=True))
    assert result.ok and result.data["turns"] == 2 and result.data["reminders"] == 2 and result.data["wiped"] is True
    assert (memory.scrubs, cache.wipes) == (1, 1) and store.reminders.all(include_done=True) == []
    assert store.erasures.unscrubbed() == [] and _files_holding(state_dir, MARKER) == []


def test_an_erasure_also_removes_a_damaged_store_set_aside(store: Store, state_dir: Path) -> None:
    set_aside = [
        state_dir / "papo.sqlite3.corrupt-20261130T080000Z",
        state_dir / "papo.sqlite3.corrupt-20261130T080000Z-wal",
    ]
    for path in set_aside:
        path.write_bytes(f"Papo, meu gato se chama {MARKER}".encode())
    store.erasures.erase_all()
    _scrubber(store, state_dir, FakeMemory(), FakeCache()).run_pending()
    assert not any(path.exists() for path in set_aside) and _files_holding(state_dir, MARKER) == []


def test_the_fleets_forget_memories_works_without_the_memory_index(store: Store, state_dir: Path) -> None:
    handle = privacy_fleet.forget_memories(store, Scrubber(store, state_dir / "memory", lambda: None, lambda: None))
    assert handle(_command(CommandName.FORGET_MEMORIES)).data == {"memories": 0}
    store.memories.add(MARKER, MemoryKind.SAID, None)
    result = handle(_command(CommandName.FORGET_MEMORIES))
    assert result.ok and result.data["memories"] == 1 and result.data["wiped"] is True
    assert store.memories.all() == [] and _files_holding(state_dir, MARKER) == []

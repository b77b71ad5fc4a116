"""Wellbeing events and «estou bem» updates are at the head of the outbox and never dropped by its cap (issue 14)."""

from __future__ import annotations

from pathlib import Path

from papo.store import EventSource, Severity, Store
from papo.store.outbox import OutboxCap
from support.pipeline_fakes import new_turn


def test_urgent_rows_are_sent_before_older_turns_each_keeping_its_seq(state_dir: Path) -> None:
    with Store(state_dir / "papo.sqlite3", "dev-1") as store:
        for n in range(3):
            store.turns.record(new_turn(f"turno {n}"), "mic")
        event = store.wellbeing.add("fall", Severity.HIGH, "eu caí", EventSource.RULES, None)
        store.turns.record(new_turn("turno 3"), "mic")
        store.wellbeing.said_fine(event.id)
        items = store.outbox.pending(100, set())
        assert [i.kind for i in items] == ["wellbeing", "wellbeing_ok", "turn", "turn", "turn", "turn"]
        assert [i.seq for i in items[:2]] == sorted(i.seq for i in items[:2])  # in their own order
        assert [i.seq for i in items[2:]] == sorted(i.seq for i in items[2:])
        assert items[0].seq > items[2].seq  # the event kept its place in the device's order: only sent earlier
        assert items[0].msg_id == event.id  # the msg_id the cloud's alert names
        assert items[1].wellbeing_ok is not None and items[1].wellbeing_ok.msg_id == event.id


def test_a_batch_in_flight_is_left_out_and_the_head_is_still_urgent(state_dir: Path) -> None:
    with Store(state_dir / "papo.sqlite3", "dev-1") as store:
        store.turns.record(new_turn("turno"), "mic")
        first = store.wellbeing.add("fall", Severity.HIGH, "eu caí", EventSource.RULES, None)
        second = store.wellbeing.add("emergency", Severity.CRITICAL, "socorro", EventSource.RULES, None)
        items = store.outbox.pending(1, {first.id})
        assert [i.msg_id for i in items] == [second.id]
        assert store.outbox.delete([first.id, second.id]) == 2
        assert [i.kind for i in store.outbox.pending(10, set())] == ["turn"]


def test_the_cap_drops_old_turns_but_never_a_wellbeing_update(state_dir: Path) -> None:
    with Store(state_dir / "papo.sqlite3", "dev-1", outbox_cap=OutboxCap(max_rows=3, max_bytes=10_000_000)) as store:
        event = store.wellbeing.add("fall", Severity.HIGH, "eu caí", EventSource.RULES, None)
        store.wellbeing.said_fine(event.id)
        for n in range(4):
            store.turns.record(new_turn(f"turno {n}"), "mic")
        store.outbox.cap = OutboxCap(max_rows=1, max_bytes=1)
        store.wellbeing.said_fine(event.id)  # a second «estou bem» with the outbox far over its cap
        kinds = [i.kind for i in store.outbox.pending(100, set())]
        assert kinds == ["wellbeing", "wellbeing_ok", "wellbeing_ok"]
        assert store.outbox.dropped == 4

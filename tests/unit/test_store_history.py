"""The history as the web page reads it (search, pages) and wellbeing events marked seen (issue 13)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from papo.store import EventSource, NewTurn, Severity, Store


def _turn(text: str) -> NewTurn:
    return NewTurn(
        text=text, language="pt", audio_start_s=0.0, audio_end_s=1.0, audio_duration_s=1.0,
        stt_model="whisper-base", stt_window="short", vad_model="silero-vad-v6",
    )  # fmt: skip


@pytest.fixture
def store(state_dir: Path) -> Iterator[Store]:
    with Store(state_dir / "papo.sqlite3", "dev-1", 300) as opened:
        yield opened


def test_search_ignores_case_and_accents_and_needs_every_word(store: Store) -> None:
    for text in ("A Júlia vem no domingo", "julia ligou ontem", "O médico vem amanhã", "100% de certeza_x"):
        store.turns.record(_turn(text), "mic")

    assert [t.text for t in store.turns.search("JULIA").turns] == ["julia ligou ontem", "A Júlia vem no domingo"]
    assert [t.text for t in store.turns.search("vem medico").turns] == ["O médico vem amanhã"]
    assert store.turns.search("júlia amanhã").total == 0
    assert [t.text for t in store.turns.search("%").turns] == ["100% de certeza_x"]  # wildcards taken literally
    assert store.turns.search("_").total == 1


def test_pages_of_the_history_are_newest_first_with_the_total(store: Store) -> None:
    said = [store.turns.record(_turn(f"frase {n}"), "mic") for n in range(5)]

    first, second = store.turns.search("", limit=2), store.turns.search("", limit=2, offset=4)

    assert [t.id for t in first.turns] == [said[4].id, said[3].id] and first.total == 5
    assert [t.id for t in second.turns] == [said[0].id]
    assert store.turns.get(said[0].id) == said[0] and store.turns.get("nope") is None


def test_a_wellbeing_event_is_marked_seen_once_by_whom(store: Store) -> None:
    event = store.wellbeing.add("loneliness", Severity.LOW, "me sinto sozinha", EventSource.RULES, None)
    assert event.seen_at is None

    seen = store.wellbeing.mark_seen(event.id, "dono")
    again = store.wellbeing.mark_seen(event.id, "outra pessoa")

    assert seen is not None and seen.seen_at is not None and seen.seen_by == "dono"
    assert again == seen  # the first look is the one recorded
    assert store.wellbeing.all()[0].seen_by == "dono"
    assert store.wellbeing.mark_seen("no-such-id", "dono") is None

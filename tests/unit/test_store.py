import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

import papo.store.database as papo_store_database
from papo.statedir import StateDirError
from papo.store import EventSource, NewTurn, Severity, Store


def _turn(text: str) -> NewTurn:
    return NewTurn(
        text=text,
        language="pt",
        audio_start_s=0.5,
        audio_end_s=2.0,
        audio_duration_s=1.7,
        stt_model="whisper-base",
        stt_window="short",
        vad_model="silero-vad-v6",
        vad_ms=3.0,
        stt_ms=180.0,
        eos_to_text_ms=500.0,
    )


def test_schema_is_migrated_and_wal_is_on(state_dir: Path) -> None:
    store = Store(state_dir / "papo.sqlite3", "dev-1", 300)
    store.close()
    with closing(sqlite3.connect(state_dir / "papo.sqlite3")) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT version_num FROM alembic_version").fetchone()[0] == "0006"
        columns = {row[1] for row in db.execute("PRAGMA table_info(turn)")}
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"text", "audio_duration_s", "vad_ms", "stt_ms", "eos_to_text_ms", "stt_model", "vad_model"} <= columns
    assert {"reply_to", "eos_to_first_token_ms", "eos_to_first_audio_ms", "llm_model", "tts_voice"} <= columns
    assert {"memory", "reminder", "wellbeingevent", "outbox", "erasure"} <= tables


def test_a_version_0001_store_is_upgraded_in_place_keeping_its_turns(state_dir: Path) -> None:
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    store = Store(state_dir / "papo.sqlite3", "dev-1", 300)
    store.turns.record(_turn("antes da atualização"), "mic")
    store.close()
    config = Config()
    config.set_main_option("script_location", str(Path(papo_store_database.__file__).parent / "migrations"))
    engine = create_engine(f"sqlite:///{state_dir / 'papo.sqlite3'}")
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")
    engine.dispose()
    reopened = Store(state_dir / "papo.sqlite3", "dev-1", 300)
    (turn,) = reopened.turns.recent()
    assert turn.text == "antes da atualização" and turn.reply_to is None and turn.interrupted is False
    reopened.close()


def test_turns_are_ordered_kept_across_reopen_and_grouped(state_dir: Path) -> None:
    path = state_dir / "papo.sqlite3"
    store = Store(path, "dev-1", conversation_idle_s=300)
    first = store.turns.record(_turn("bom dia"), "mic")
    second = store.turns.record(_turn("tudo bem?"), "mic")
    other = store.turns.record(_turn("de um arquivo"), "file:a.wav")
    store.close()
    reopened = Store(path, "dev-1", conversation_idle_s=300)
    assert reopened.turns.count() == 3
    assert [t.text for t in reopened.turns.recent()] == ["de um arquivo", "tudo bem?", "bom dia"]
    assert (first.seq, second.seq, other.seq) == (1, 2, 3)
    assert first.conversation_id == second.conversation_id != other.conversation_id


def test_long_silence_starts_a_new_conversation(state_dir: Path) -> None:
    store = Store(state_dir / "papo.sqlite3", "dev-1", conversation_idle_s=0.001)
    first = store.turns.record(_turn("oi"), "mic")
    import time

    time.sleep(0.01)  # the scenario: a silence longer than the 1 ms idle limit
    second = store.turns.record(_turn("oi de novo"), "mic")
    assert first.conversation_id != second.conversation_id


def test_read_only_state_dir_is_a_clear_error_and_loses_nothing(state_dir: Path, read_only) -> None:
    path = state_dir / "papo.sqlite3"
    store = Store(path, "dev-1", 300)
    store.turns.record(_turn("guardado"), "mic")
    store.close()
    with read_only(state_dir), pytest.raises(StateDirError, match="read-only; set PAPO_STATE_DIR"):
        Store(path, "dev-1", 300)
    with closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT text FROM turn").fetchall() == [("guardado",)]


def test_each_turn_and_wellbeing_event_is_queued_for_sync_in_the_same_transaction(state_dir: Path) -> None:
    store = Store(state_dir / "papo.sqlite3", "dev-1", 300)
    turn = store.turns.record(_turn("bom dia"), "mic")
    store.wellbeing.add("fall", Severity.HIGH, "caí", EventSource.RULES, turn.id)
    items = store.outbox.pending(10, set())
    assert [i.kind for i in items] == ["wellbeing", "turn"]  # a wellbeing event is sent first (issue 14)
    assert items[1].turn is not None and items[1].turn.text == "bom dia" and items[1].turn.device_id == "dev-1"
    assert items[0].wellbeing is not None and items[0].wellbeing.turn_id == turn.id
    assert items[1].seq < items[0].seq  # each keeps its place in the device's order
    assert store.erasures.erase_all().turns == 1
    remaining = store.outbox.pending(10, set())
    assert [i.kind for i in remaining] == ["tombstone"]  # the unsent turn and event are not uploaded any more
    assert store.turns.count() == 0
    store.close()

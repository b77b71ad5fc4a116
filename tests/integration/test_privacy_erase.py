"""Erasure on the real store, ChromaDB index and sled cache: made-up marker words are searched for in every file.

A marker is put into a turn, the companion's answer, a memory (SQLite and ChromaDB, its embedding cached), a
wellbeing event, a reminder already said, their outbox rows and a cached reply; after an erasure no file under
the state directory (SQLite with its -wal/-shm, ChromaDB's files, sled's files) may hold its bytes.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from papo.audio.playback_source import RecordingSource
from papo.audio.wav import write_wav
from papo.cache import CacheNamespace, open_cache
from papo.conversation.memory import open_memory
from papo.privacy import fleet as privacy_fleet
from papo.settings import Settings, load_settings
from papo.store import EventSource, MemoryKind, NewTurn, Severity, Store, Turn, companion_turn, utc_now
from papo.wiring import Wiring
from papo_sync.protocol import Command, CommandName
from support.cli import papo
from support.markers import files_holding
from support.wait import wait_until

pytestmark = pytest.mark.models  # the memory index embeds with the MiniLM model

NO_LLM = "http://127.0.0.1:9/v1"  # nothing answers there: the companion starts without a language model


@pytest.fixture
def settings(state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("PAPO_LLM__ENDPOINT", NO_LLM)
    monkeypatch.setenv("PAPO_CONVERSATION__CREW", "false")
    return load_settings()


def _said(store: Store, text: str) -> Turn:
    return store.turns.record(
        NewTurn(text=text, language="pt", audio_start_s=0, audio_end_s=1, audio_duration_s=1, stt_model="test",
                stt_window="short", vad_model="test"),
        "mic",
    )  # fmt: skip


def _keep_everything_about(settings: Settings, word: str) -> Turn:
    """Everything that can hold `word`: turn, answer, memory (indexed), event, reminder said, outbox rows, cache."""
    cache = open_cache(settings)
    assert cache is not None
    with Store(settings.store_path, settings.device_id, 300) as store:
        turn = _said(store, f"Papo, o meu gato se chama {word}")
        store.turns.record(
            companion_turn(f"Que lindo, o {word}!", "pt", turn.id, "llm", "voice", 1.0, 2.0, False), "mic"
        )
        memory = open_memory(settings, store.memories, cache)
        memory.remember(f"O gato da pessoa se chama {word}", MemoryKind.FACT, turn.id)
        assert memory.recall(f"como se chama o gato {word}?", 1) == [f"O gato da pessoa se chama {word}"]
        memory.close()
        store.wellbeing.add("loneliness", Severity.LOW, f"só tenho o {word}", EventSource.RULES, turn.id)
        said = store.reminders.add(f"dar comida ao {word}", utc_now() - timedelta(minutes=1), turn.id)
        store.reminders.mark_spoken(said.id)
    crew = settings.state_dir / "crewai"  # CrewAI's record of its last review holds the conversation's words
    crew.mkdir(exist_ok=True)
    (crew / "latest_kickoff_task_outputs.db").write_text(f"review of: Papo, o meu gato se chama {word}")
    replies = CacheNamespace(cache, "tts")
    replies.put_bytes(replies.key("voice", f"Que lindo, o {word}!"), f"audio of {word}".encode())
    cache.close()
    return turn


def _all_places(state_dir: Path, word: str) -> None:
    """`word` is where the test put it before the erasure (so its absence afterwards means something)."""
    holding = files_holding(state_dir, word)
    assert "papo.sqlite3" in holding or "papo.sqlite3-wal" in holding, holding
    assert any(name.startswith("memory/") for name in holding), holding
    assert any(name.startswith("cache/") for name in holding), holding


def test_erase_everything_leaves_no_trace_in_any_file(settings: Settings, state_dir: Path) -> None:
    _keep_everything_about(settings, "zorblefrax")
    _all_places(state_dir, "zorblefrax")
    result = papo("forget", "--all", "--yes")
    assert result.returncode == 0, result.stderr
    assert "Erased on this device: 2 turns, 1 memory, 1 wellbeing event, 1 reminder already said" in result.stdout
    assert "wiped from the disk too" in result.stdout
    assert files_holding(state_dir, "zorblefrax") == []
    (request,) = json.loads(papo("forget", "--status", "--json").stdout)
    assert request["scope"] == "all_history" and request["scrubbed_at"] is not None
    with Wiring(settings) as parts:  # the index and the cache still work, empty
        memory = parts.memory()
        assert memory.count() == 0 and parts.store().turns.count() == 0
        memory.remember("A filha se chama Ana", MemoryKind.FACT, None)
        assert memory.recall("nome da filha", 1) == ["A filha se chama Ana"]


def test_forget_one_turn_takes_its_marker_and_leaves_the_others(settings: Settings, state_dir: Path) -> None:
    kept = _keep_everything_about(settings, "quibbleton")
    gone = _keep_everything_about(settings, "flumpernickel")
    _all_places(state_dir, "flumpernickel")
    listed = papo("history")
    assert gone.id in listed.stdout and kept.id in listed.stdout
    result = papo("forget", gone.id)
    assert result.returncode == 0, result.stderr
    assert "Erased on this device: 2 turns, 1 memory, 1 wellbeing event, 1 reminder already said" in result.stdout
    assert files_holding(state_dir, "flumpernickel") == []
    survivors = files_holding(state_dir, "quibbleton")
    assert "papo.sqlite3" in survivors and any(name.startswith("memory/") for name in survivors), survivors
    with Wiring(settings) as parts:
        memory = parts.memory()
        assert memory.count() == 1  # the other memory is still found by meaning
        assert memory.recall("o nome do gato", 1) == ["O gato da pessoa se chama quibbleton"]
        tombstone = parts.store().outbox.pending(50, set())[-1].tombstone
        assert tombstone is not None and tombstone.scope == "turns" and gone.id in tombstone.turn_ids


def test_forget_one_memory_rewrites_the_index(settings: Settings, state_dir: Path) -> None:
    with Wiring(settings) as parts:
        memory = parts.memory()
        forgotten = memory.remember("A senha do portão é blorptangle", MemoryKind.SAID, None)
        memory.remember("A vizinha se chama Rosa", MemoryKind.FACT, None)
    assert any(name.startswith("memory/") for name in files_holding(state_dir, "blorptangle"))
    result = papo("memory", "forget", forgotten.id)
    assert result.returncode == 0, result.stderr
    assert files_holding(state_dir, "blorptangle") == []
    assert any(name.startswith("memory/") for name in files_holding(state_dir, "Rosa"))


def test_the_running_service_wipes_what_papo_forget_asked_for(
    settings: Settings, state_dir: Path, tmp_path: Path
) -> None:
    from litestar.testing import TestClient

    from papo.app import create_app

    _keep_everything_about(settings, "snozzwanger")
    silence = tmp_path / "silence.wav"
    write_wav(silence, np.zeros(16_000, dtype=np.float32))
    app = create_app(settings, open_source=lambda: RecordingSource(silence))
    conversation = app.state["voice"].conversation
    assert conversation is not None
    with TestClient(app):
        wait_until(lambda: conversation.memory is not None, 120, "the service's memory index")
        result = papo("forget", "--all", "--yes")  # the service holds the index and the cache: it wipes them
        assert result.returncode == 0, result.stdout + result.stderr
        assert "waiting for it to wipe its memory index and cache" in result.stderr
        assert "wiped from the disk too" in result.stdout
        assert conversation.memory.count() == 0
        assert files_holding(state_dir, "snozzwanger") == []
    assert files_holding(state_dir, "snozzwanger") == []


def test_the_fleets_delete_history_erases_everything(settings: Settings, state_dir: Path) -> None:
    _keep_everything_about(settings, "wibblesnatch")
    with Wiring(settings) as parts:
        memory = parts.memory()  # as in the service: the index and the cache open in this process
        store = parts.store()
        handle = privacy_fleet.delete_history(store, parts.scrubber(lambda: memory))
        result = handle(Command(command_id="cmd-1", name=CommandName.DELETE_HISTORY, args={"include_reminders": False}))
        assert result.ok and result.data["wiped"] is True, result
        assert (result.data["turns"], result.data["memories"], result.data["outbox_rows"]) == (2, 1, 3)
        assert memory.count() == 0 and memory.recall("gato", 1) == []
    assert files_holding(state_dir, "wibblesnatch") == []


def test_an_index_open_nowhere_is_rewritten_even_when_unreadable(settings: Settings, state_dir: Path) -> None:
    _keep_everything_about(settings, "grumbleweed")
    (settings.memory_dir / "chroma.sqlite3").write_bytes(b"grumbleweed, not a database" * 100)
    result = papo("forget", "--all", "--yes")
    assert result.returncode == 0, result.stderr
    assert files_holding(state_dir, "grumbleweed") == []

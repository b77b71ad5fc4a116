"""`papo history`, `papo forget` and `papo memory forget` as a person uses them (in-process, no models)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from papo.cli import main
from papo.settings import load_settings
from papo.store import MemoryKind, NewTurn, Store, Turn


def _said(text: str) -> Turn:
    settings = load_settings()
    with Store(settings.store_path, settings.device_id, 300) as store:
        return store.turns.record(
            NewTurn(text=text, language="pt", audio_start_s=0, audio_end_s=1, audio_duration_s=1, stt_model="t",
                    stt_window="short", vad_model="t"),
            "mic",
        )  # fmt: skip


def _texts() -> list[str]:
    settings = load_settings()
    with Store(settings.store_path, settings.device_id, 300) as store:
        return [turn.text for turn in store.turns.all()]


class Terminal(io.StringIO):
    """Standard input typed at a terminal."""

    def isatty(self) -> bool:
        return True


def test_history_shows_the_ids_forget_takes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history"]) == 0
    assert "nothing was said yet" in capsys.readouterr().out
    first, second = _said("bom dia"), _said("boa noite")
    assert main(["history"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [first.id, second.id] and lines[0].endswith("person  bom dia")
    assert main(["history", "--json", "--limit", "1"]) == 0
    assert [turn["text"] for turn in json.loads(capsys.readouterr().out)] == ["boa noite"]


def test_forget_needs_exactly_one_of_an_id_all_or_status(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["forget"], ["forget", "abc", "--all"], ["forget", "--all", "--status"]):
        assert main(args) == 1
        assert "give one of: an ID (see `papo history`), --all, or --status" in capsys.readouterr().err


def test_forget_one_turn(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPO_CACHE__ENABLED", "false")  # the real cache's wipe: tests/integration
    gone, kept = _said("meu segredo"), _said("bom dia")
    assert main(["forget", "no-such-turn"]) == 1
    assert "no turn with id 'no-such-turn'; `papo history` shows the turns" in capsys.readouterr().err
    assert main(["forget", gone.id]) == 0
    out = capsys.readouterr().out
    assert "Erased on this device: 1 turn, 1 message waiting for the cloud." in out
    assert "wiped from the disk too" in out and "Syncing with a cloud is off" in out
    assert _texts() == [kept.text]


def test_forget_all_asks_first(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAPO_CACHE__ENABLED", "false")
    _said("bom dia")
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))  # not a terminal: no one to ask
    assert main(["forget", "--all"]) == 1
    assert "cannot be undone; run it in a terminal to be asked, or add --yes" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", Terminal("no\n"))
    assert main(["forget", "--all"]) == 1
    assert "Nothing was erased." in capsys.readouterr().out and _texts() == ["bom dia"]
    monkeypatch.setattr("sys.stdin", Terminal("yes\n"))
    assert main(["forget", "--all"]) == 0
    captured = capsys.readouterr()
    assert "It cannot be undone." in captured.err and "Erased on this device: 1 turn" in captured.out
    assert _texts() == []


def test_forget_status_lists_requests_in_plain_words(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAPO_CACHE__ENABLED", "false")
    assert main(["forget", "--status"]) == 0
    assert "nothing has been erased yet" in capsys.readouterr().out
    assert main(["forget", "--all", "--yes"]) == 0
    settings = load_settings()
    with Store(settings.store_path, settings.device_id, 300) as store:
        memory = store.memories.add("o gato se chama Bolt", MemoryKind.FACT, None)
    assert main(["memory", "forget", memory.id]) == 0
    assert "Erased on this device: 1 memory." in capsys.readouterr().out
    assert main(["forget", "--status"]) == 0
    header, memories, everything = capsys.readouterr().out.splitlines()
    assert "wiped from the disk" in header and "confirmed by the cloud" in header
    assert "memories" in memories and memories.endswith("not needed (memories stay here)")
    assert "everything" in everything and everything.endswith("waiting")  # the cloud has not confirmed yet
    assert main(["forget", "--status", "--json"]) == 0
    requests = json.loads(capsys.readouterr().out)
    assert [r["scope"] for r in requests] == ["memories", "all_history"]
    assert all(r["scrubbed_at"] for r in requests) and not any(r["confirmed_at"] for r in requests)


def test_memory_forget_of_an_unknown_id_says_where_to_look(capsys: pytest.CaptureFixture[str], state_dir: Path) -> None:
    assert main(["memory", "forget", "nope"]) == 1
    assert "no memory with id 'nope'; see `papo memory list`" in capsys.readouterr().err
    assert main(["memory", "forget", "--all"]) == 0
    assert "remembers nothing" in capsys.readouterr().out

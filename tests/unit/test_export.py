"""`papo export`: the published schema is the model's, and an export holds every kept item, readable by its owner."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest

from papo.cli import main
from papo.privacy.export import PersonExport, export_schema
from papo.settings import load_settings
from papo.store import EventSource, MemoryKind, NewTurn, Severity, Store, companion_turn, utc_now

SCHEMA = Path(__file__).parents[2] / "docs" / "export-schema.json"


def test_the_published_schema_is_the_one_the_model_makes() -> None:
    assert SCHEMA.read_text(encoding="utf-8") == export_schema(), (
        "docs/export-schema.json is out of date: run `uv run python -m papo.privacy.schema docs/export-schema.json`"
    )


def _filled(state_dir: Path) -> dict[str, set[str]]:
    """A store with one of everything; the ids of what it keeps."""
    with Store(state_dir / "papo.sqlite3", "dev-1", 300) as store:
        said = store.turns.record(
            NewTurn(text="Papo, a Júlia vem no domingo", language="pt", audio_start_s=0.2, audio_end_s=2.0,
                    audio_duration_s=1.8, stt_model="whisper-base", stt_window="short", vad_model="silero-vad-v6"),
            "mic",
        )  # fmt: skip
        answer = store.turns.record(
            companion_turn("Que bom!", "pt", said.id, "llm", "espeak", 900.0, 1200.0, False), "mic"
        )
        memory = store.memories.add("A neta se chama Júlia", MemoryKind.FACT, said.id)
        pending = store.reminders.add("ligar para a Júlia", utc_now() + timedelta(days=1), said.id)
        done = store.reminders.add("tomar o remédio", utc_now() - timedelta(hours=1), None)
        store.reminders.mark_spoken(done.id)
        event = store.wellbeing.add("loneliness", Severity.LOW, "me sinto sozinha", EventSource.RULES, said.id)
        gone = store.turns.record(
            NewTurn(text="esqueça isto", language="pt", audio_start_s=0, audio_end_s=1, audio_duration_s=1,
                    stt_model="t", stt_window="short", vad_model="t"),
            "mic",
        )  # fmt: skip
        erasure = store.erasures.erase_turns(gone.id)
        assert erasure is not None
        return {
            "turns": {said.id, answer.id}, "memories": {memory.id}, "reminders": {pending.id, done.id},
            "wellbeing_events": {event.id}, "erasure_requests": {erasure.request.id},
            "conversations": {said.conversation_id},
        }  # fmt: skip


def test_an_export_validates_against_the_schema_and_holds_everything_kept(
    state_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = _filled(state_dir)
    password = tmp_path / "broker-password"
    password.write_text("s3cret")
    monkeypatch.setenv("PAPO_SYNC__PASSWORD_FILE", str(password))
    out = tmp_path / "papo-export.json"
    out.write_text("an older file")
    out.chmod(0o644)
    assert main(["export", "--out", str(out)]) == 0
    assert "2 turns, 1 memory, 2 reminders, 1 wellbeing event" in capsys.readouterr().out
    assert out.stat().st_mode & 0o777 == 0o600
    document = json.loads(out.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(
        json.loads(SCHEMA.read_text(encoding="utf-8")), format_checker=jsonschema.FormatChecker()
    )
    assert list(validator.iter_errors(document)) == []
    assert document["schema_version"] == 1 and document["device_id"] == load_settings().device_id
    for section, ids in kept.items():
        assert {item["id"] for item in document[section]} == ids, section
    assert document["turns"][0]["text"] == "Papo, a Júlia vem no domingo"  # the person's words, readable
    assert document["turns"][1]["reply_to"] == document["turns"][0]["id"]
    assert document["erasure_requests"][0]["scope"] == "turns"
    assert document["settings"]["sync"]["password_file"] == "(hidden)" and "s3cret" not in out.read_text()
    assert document["settings"]["stt"]["model"] == load_settings().stt.model
    assert document["waiting_for_cloud"] == 4  # 2 turns, the event and the tombstone (the erased turn's row is gone)
    assert document["exported_at"].endswith("Z") or document["exported_at"].endswith("+00:00")
    assert PersonExport.model_validate(document).turns[0].started_at.tzinfo is not None
    assert not list(tmp_path.glob(".*.partial"))


def test_an_unwritable_destination_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "--out", str(tmp_path / "no-such-dir" / "out.json")]) == 1
    assert "cannot write" in capsys.readouterr().err

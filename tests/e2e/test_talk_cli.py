"""`papo say`, `papo listen --reply`, `papo memory` and `papo reminders`, run as the shipped program."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
import soundfile as sf

from papo.audio.wav import read_wav, write_wav
from papo.speech.voicegen import with_silence
from papo.speech.wordcheck import content_word_recall
from support.cli import papo
from support.scripted_llm import Script, ScriptedLlm, when_any_contains, when_said
from support.speech import SpeechMaker


@pytest.fixture
def scripted() -> Iterator[ScriptedLlm]:
    review = Script(text='{"facts": ["O cachorro da pessoa se chama Bolt"], "concern": "none"}')
    llm = ScriptedLlm(
        rules=[when_any_contains("Memory keeper", review), when_said("cachorro", Script(text="Que nome lindo!"))]
    ).start()
    yield llm
    llm.close()


def test_say_writes_the_spoken_sentence(tmp_path: Path) -> None:
    out = tmp_path / "bom-dia.wav"
    result = papo("say", "Bom dia! Como a senhora está hoje?", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "espeak:pt-br" in result.stdout
    info = sf.info(str(out))
    assert info.samplerate == 22050 and 1.0 < info.duration < 6.0
    assert papo("say", "   ", "--out", str(out)).returncode == 1


def test_the_piper_voice_is_understood_by_whisper(tmp_path: Path, engine: object) -> None:
    out = tmp_path / "piper.wav"
    sentence = "Good morning! Did you sleep well last night?"
    env = {"PAPO_TTS__ENGINE": "piper", "PAPO_CONVERSATION__LANGUAGE": "en"}
    result = papo("say", sentence, "--out", str(out), env=env)
    assert result.returncode == 0, result.stderr
    assert "piper:piper-en-us-joe" in result.stdout
    heard = papo("listen", str(out), "--json", "--no-store", env={"PAPO_STT__LANGUAGE": "en"})
    text = " ".join(json.loads(line)["text"] for line in heard.stdout.splitlines())
    assert content_word_recall(sentence, text) >= 0.75, text


def test_listen_reply_json_writes_each_answer_and_remembers(
    state_dir: Path, speech: SpeechMaker, tmp_path: Path, scripted: ScriptedLlm
) -> None:
    wav = tmp_path / "conversa.wav"
    write_wav(
        wav,
        with_silence(
            [
                speech.say("Papo, o meu cachorro se chama Bolt."),  # then the next one is a follow-up
                speech.say("Socorro, por favor, me ajudem, eu caí no chão da cozinha."),
            ],
            1.5,
        ),
    )
    env = {"PAPO_LLM__ENDPOINT": scripted.url, "PAPO_LLM__MODEL": "scripted"}
    result = papo("listen", str(wav), "--reply", "--json", "--no-play", "--out-dir", str(tmp_path), env=env)
    assert result.returncode == 0, result.stderr
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert set(first) == {"text", "start_s", "end_s", "language", "stt_ms", "reply", "wellbeing", "first_audio_ms",
                          "reply_wav"}  # fmt: skip
    assert first["reply"] == "Que nome lindo!" and first["wellbeing"] is None and first["first_audio_ms"] > 0
    assert second["wellbeing"] == {"kind": "emergency", "severity": "critical"}, second
    assert "SAMU" in second["reply"] and "avisando" not in second["reply"]  # it claims no alert it did not send
    for line in (first, second):
        assert read_wav(Path(line["reply_wav"])).duration_s > 0.5
    with closing(sqlite3.connect(state_dir / "papo.sqlite3")) as db:
        roles = [r[0] for r in db.execute("SELECT role FROM turn ORDER BY seq")]
        events = db.execute("SELECT kind, severity, source FROM wellbeingevent").fetchall()
    assert roles == ["person", "companion", "person", "companion"]
    assert events == [("emergency", "critical", "rules")]

    listed = papo("memory", "list", "--json")
    memories = json.loads(listed.stdout)
    assert [m["text"] for m in memories] == ["O cachorro da pessoa se chama Bolt"]
    assert papo("memory", "forget", memories[0]["id"]).returncode == 0
    assert json.loads(papo("memory", "list", "--json").stdout) == []
    missing = papo("memory", "forget", "nope")
    assert missing.returncode == 1 and "no memory with id" in missing.stderr


def test_reminders_lists_what_was_asked(state_dir: Path, scripted: ScriptedLlm, tmp_path: Path) -> None:
    assert papo("reminders").stdout.strip() == "no reminders"
    from papo.conversation.reminders import parse_reminder
    from papo.settings import load_settings
    from papo.store import Store

    store = Store(load_settings().store_path, "papo-local", 300)
    from datetime import datetime

    request = parse_reminder("me lembra de tomar o remédio às oito", datetime.now().astimezone())
    assert request is not None
    store.reminders.add(request.what, request.due_at, None)
    store.close()
    listed = papo("reminders")
    assert (
        "pending" in listed.stdout
        and "tomar o remédio" in listed.stdout
        and ("08:00" in listed.stdout or "20:00" in listed.stdout)
    )

"""`papo run`: the Litestar daemon as a process, its /health, its pipeline and a clean Ctrl-C."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path

import pytest

from conftest import SENTENCES
from papo.audio.wav import write_wav
from papo.speech.voicegen import with_silence
from papo.speech.wordcheck import content_word_recall
from support.cli import PAPO
from support.daemon import daemon, stop_daemon, wait_for_health
from support.pulse import PulseRig
from support.scripted_llm import Script, ScriptedLlm, when_said
from support.speech import SpeechMaker
from support.wait import wait_until


@pytest.mark.models
def test_without_a_microphone_the_daemon_stays_healthy_and_retries() -> None:
    with daemon() as (process, base):
        health = wait_for_health(base, lambda h: h["pipeline"]["state"] == "no audio input", timeout=60)
        assert health["status"] == "degraded" and "no mic" in health["reasons"]  # up (HTTP 200), saying what lacks
        assert health["models"] == {"stt": "whisper-base", "vad": "silero-vad-v6"}
        assert health["model_versions"] == {"whisper-base": "905e5bf8336b", "silero-vad-v6": "4cbf549b8326"}
        assert "no audio input" in health["pipeline"]["detail"]
        first_retry = health["pipeline"]["retry_in_s"]
        later = wait_for_health(base, lambda h: (h["pipeline"]["retry_in_s"] or 0) > first_retry, timeout=30)
        assert later["pipeline"]["state"] == "no audio input"
        output = stop_daemon(process)
    assert "audio input unavailable" in output
    assert "daemon stopped" in output


def test_daemon_hears_and_stores_what_is_said(
    state_dir: Path, speech: SpeechMaker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAPO_PRIVACY__KEEP_UNADDRESSED", "true")  # the sentences do not name Papo: keep them all
    recording = tmp_path / "sala.wav"
    write_wav(recording, with_silence([speech.say(s) for s in SENTENCES[:2]], gap_s=1.5))
    with daemon("--input", str(recording)) as (process, base):
        health = wait_for_health(base, lambda h: h["pipeline"]["utterances"] >= 2, timeout=90)
        assert health["pipeline"]["state"] == "listening"
        assert health["pipeline"]["device"] == "file:sala.wav"
        stop_daemon(process)
    with closing(sqlite3.connect(state_dir / "papo.sqlite3")) as db:
        rows = db.execute("SELECT text, eos_to_text_ms, stt_ms, vad_ms, stt_model FROM turn ORDER BY seq").fetchall()
    assert len(rows) == 2
    for (text, eos_ms, stt_ms, vad_ms, model), sentence in zip(rows, SENTENCES[:2], strict=True):
        assert content_word_recall(sentence, text) >= 0.8, text
        assert eos_ms > 0 and stt_ms > 0 and vad_ms > 0 and model == "whisper-base"


@pytest.mark.audio
def test_daemon_listens_through_the_native_microphone(
    state_dir: Path, speech: SpeechMaker, tmp_path: Path, alsa_rig: PulseRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    room = tmp_path / "cozinha.wav"
    write_wav(room, with_silence([speech.say(s) for s in SENTENCES[1:3]], gap_s=1.5))
    monkeypatch.setenv("PAPO_AUDIO__INPUT_DEVICE", "papo_mic")
    monkeypatch.setenv("PAPO_PRIVACY__KEEP_UNADDRESSED", "true")  # the sentences do not name Papo: keep them all
    with daemon() as (process, base):
        health = wait_for_health(base, lambda h: h["pipeline"]["state"] == "listening", timeout=60)
        assert health["pipeline"]["device"] == "Papo test microphone"
        alsa_rig.play_into_room(room).wait(timeout=60)
        health = wait_for_health(base, lambda h: h["pipeline"]["utterances"] >= 2, timeout=60)
        assert health["pipeline"]["dropped_samples"] == 0
        stop_daemon(process)
    with closing(sqlite3.connect(state_dir / "papo.sqlite3")) as db:
        texts = [row[0] for row in db.execute("SELECT text FROM turn ORDER BY seq")]
    assert len(texts) == 2
    for text, sentence in zip(texts, SENTENCES[1:3], strict=True):
        assert content_word_recall(sentence, text) >= 0.8, text


@pytest.mark.models
@pytest.mark.audio
def test_on_one_core_the_daemon_still_answers_with_the_embedded_model(
    state_dir: Path, speech: SpeechMaker, tmp_path: Path, alsa_rig: PulseRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17: confined to one CPU (its children too), every pool sized for it, a pt-BR utterance is answered."""
    room = tmp_path / "varanda.wav"
    write_wav(room, with_silence([speech.say("Papo, hoje eu fiz um bolo de fubá para o café da tarde.")], 0.0))
    monkeypatch.setenv("PAPO_AUDIO__INPUT_DEVICE", "papo_mic")
    monkeypatch.setenv("PAPO_CONVERSATION__WAKE_WORDS", "[]")  # every utterance is for Papo: no misheard name
    monkeypatch.setenv("PAPO_CONVERSATION__CREW", "false")  # the review would run at stop, minutes on one core
    with daemon(cpus={min(os.sched_getaffinity(0))}) as (process, base):
        # said once the model is loaded and warmed up (on one core that takes a while), as a person would
        wait_for_health(
            base, lambda h: h["pipeline"]["state"] == "listening" and h["conversation"]["state"] == "ready", 600
        )
        alsa_rig.play_into_room(room).wait(timeout=60)
        answer = wait_until(lambda: _answer(state_dir), 300, "the companion's answer in the store")
        output = stop_daemon(process)
    assert answer is not None
    budget = next(line for line in output.splitlines() if "cpu budget" in line)
    assert " cores=1 " in budget and "llm_threads=1 " in budget and "anticipation_cores=0" in budget, budget
    assert answer[1] == "qwen2.5-coder-0.5b" and answer[0].strip(), answer  # the model's words, not a fixed apology
    assert "embedded language model ready" in output


def _answer(state_dir: Path) -> tuple[str, str] | None:
    with closing(sqlite3.connect(state_dir / "papo.sqlite3")) as db:
        row = db.execute("SELECT text, llm_model FROM turn WHERE role = 'companion' ORDER BY seq LIMIT 1").fetchone()
    return None if row is None else (str(row[0]), str(row[1]))


def test_daemon_refuses_to_start_on_a_bad_recording(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_text("nope")
    result = subprocess.run([str(PAPO), "run", "--input", str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "not a readable WAV file" in result.stderr


LONG_STORY = " ".join(
    f"Essa é a parte {n} de uma história bem comprida sobre o mar, os barcos e os pescadores." for n in range(1, 13)
)


@pytest.mark.audio
def test_speech_during_a_reply_stops_it_and_is_answered(
    state_dir: Path, speech: SpeechMaker, tmp_path: Path, alsa_rig: PulseRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripted = ScriptedLlm(
        rules=[when_said("história", Script(text=LONG_STORY))], default=Script(text="Claro, pode falar.")
    ).start()
    room = tmp_path / "sala.wav"
    first = speech.say("Papo, me conta uma história bem comprida sobre o mar.")
    second = speech.say("Espera um pouco, Papo, agora eu quero falar do meu neto.")
    write_wav(room, with_silence([first, second], gap_s=4.0, lead_s=1.0))
    for name, value in {
        "PAPO_LLM__ENDPOINT": scripted.url, "PAPO_LLM__MODEL": "scripted", "PAPO_CONVERSATION__CREW": "false",
        "PAPO_AUDIO__OUTPUT_DEVICE": "papo_speaker",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    speaker_wav = tmp_path / "speaker.wav"
    try:
        with daemon("--input", str(room)) as (process, base):
            wait_for_health(base, lambda h: h["conversation"]["state"] == "ready", timeout=60)
            recorder = alsa_rig.record_speaker(speaker_wav)
            try:
                # the answer is stored once said: "not speaking" alone also holds before the answer has begun
                wait_for_health(base, lambda h: not h["conversation"]["speaking"] and _stored(state_dir) >= 4, 90)
                recorder.stop_once_past(time.monotonic())  # the tail of the last reply is in the file
            finally:
                recorder.stop()
            output = stop_daemon(process)
    finally:
        scripted.close()
    with closing(sqlite3.connect(state_dir / "papo.sqlite3")) as db:
        rows = db.execute("SELECT role, text, interrupted FROM turn ORDER BY seq").fetchall()
    roles = [r[0] for r in rows]
    assert roles == ["person", "companion", "person", "companion"], rows
    story, answer = rows[1], rows[3]
    assert story[2] == 1 and len(story[1]) < len(LONG_STORY)  # cut short
    assert answer == ("companion", "Claro, pode falar.", 0)
    assert "reply interrupted by the person" in output
    assert "speech_to_stop_ms" in output, output[-3000:]
    print(output[output.index("event=barge-in") :].splitlines()[0])
    from papo.audio.wav import read_wav

    played = read_wav(speaker_wav).samples
    loud = (abs(played) > 0.02).sum() / 16_000
    assert 0.5 < loud < 20  # the story (about 50 s of speech) was heard only in part


def _stored(state_dir: Path) -> int:
    """How many turns the daemon has stored (read as another process would)."""
    with closing(sqlite3.connect(state_dir / "papo.sqlite3")) as db:
        return int(db.execute("SELECT count(*) FROM turn").fetchone()[0])


@pytest.mark.models
def test_health_reports_the_conversation_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    scripted = ScriptedLlm().start()
    monkeypatch.setenv("PAPO_LLM__ENDPOINT", scripted.url)
    try:
        with daemon() as (process, base):
            early = wait_for_health(base, lambda h: "conversation" in h, timeout=60)
            assert early["conversation"]["state"] in ("loading", "ready")
            health = wait_for_health(base, lambda h: h["conversation"]["crew"] == "ready", timeout=120)
            assert health["conversation"]["state"] == "ready"
            assert health["conversation"]["llm"]["url"] == scripted.url
            assert health["conversation"]["voice"] == "espeak:pt-br:160"
            assert health["conversation"]["memories"] == 0
            stop_daemon(process)
    finally:
        scripted.close()

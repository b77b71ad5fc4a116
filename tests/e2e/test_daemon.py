"""`papo run`: the Litestar daemon as a process, its /health, its pipeline and a clean Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from conftest import SENTENCES
from papo.audio.wav import write_wav
from papo.speech.voicegen import with_silence
from papo.speech.wordcheck import content_word_recall
from support.cli import PAPO
from support.pulse import PulseRig
from support.scripted_llm import Script, ScriptedLlm, when_said
from support.speech import SpeechMaker
from support.wait import wait_until


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _daemon(*args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    port = _free_port()
    process = subprocess.Popen(
        [str(PAPO), "run", "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=os.environ.copy(),
    )
    try:
        yield process, f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _health(base: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"{base}/health", timeout=2) as response:
            return dict(json.load(response))
    except OSError:
        return None


def _wait_for(base: str, condition: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any]:
    """Poll /health until `condition` holds for its answer; return that answer."""
    last: list[dict[str, Any] | None] = [None]

    def satisfied() -> dict[str, Any] | None:
        last[0] = _health(base)
        return last[0] if last[0] is not None and condition(last[0]) else None

    return wait_until(satisfied, timeout, lambda: f"/health to satisfy the condition; last answer: {last[0]}", 0.2)


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output
    return output


@pytest.mark.models
def test_without_a_microphone_the_daemon_stays_healthy_and_retries() -> None:
    with _daemon() as (process, base):
        health = _wait_for(base, lambda h: h["pipeline"]["state"] == "no audio input", timeout=60)
        assert health["status"] == "degraded" and "no mic" in health["reasons"]  # up (HTTP 200), saying what lacks
        assert health["models"] == {"stt": "whisper-base", "vad": "silero-vad-v6"}
        assert health["model_versions"] == {"whisper-base": "905e5bf8336b", "silero-vad-v6": "4cbf549b8326"}
        assert "no audio input" in health["pipeline"]["detail"]
        first_retry = health["pipeline"]["retry_in_s"]
        later = _wait_for(base, lambda h: (h["pipeline"]["retry_in_s"] or 0) > first_retry, timeout=30)
        assert later["pipeline"]["state"] == "no audio input"
        output = _stop(process)
    assert "audio input unavailable" in output
    assert "daemon stopped" in output


def test_daemon_hears_and_stores_what_is_said(
    state_dir: Path, speech: SpeechMaker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAPO_PRIVACY__KEEP_UNADDRESSED", "true")  # the sentences do not name Papo: keep them all
    recording = tmp_path / "sala.wav"
    write_wav(recording, with_silence([speech.say(s) for s in SENTENCES[:2]], gap_s=1.5))
    with _daemon("--input", str(recording)) as (process, base):
        health = _wait_for(base, lambda h: h["pipeline"]["utterances"] >= 2, timeout=90)
        assert health["pipeline"]["state"] == "listening"
        assert health["pipeline"]["device"] == "file:sala.wav"
        _stop(process)
    with sqlite3.connect(state_dir / "papo.sqlite3") as db:
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
    with _daemon() as (process, base):
        health = _wait_for(base, lambda h: h["pipeline"]["state"] == "listening", timeout=60)
        assert health["pipeline"]["device"] == "Papo test microphone"
        alsa_rig.play_into_room(room).wait(timeout=60)
        health = _wait_for(base, lambda h: h["pipeline"]["utterances"] >= 2, timeout=60)
        assert health["pipeline"]["dropped_samples"] == 0
        _stop(process)
    with sqlite3.connect(state_dir / "papo.sqlite3") as db:
        texts = [row[0] for row in db.execute("SELECT text FROM turn ORDER BY seq")]
    assert len(texts) == 2
    for text, sentence in zip(texts, SENTENCES[1:3], strict=True):
        assert content_word_recall(sentence, text) >= 0.8, text


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
        with _daemon("--input", str(room)) as (process, base):
            _wait_for(base, lambda h: h["conversation"]["state"] == "ready", timeout=60)
            recorder = alsa_rig.record_speaker(speaker_wav)
            try:
                _wait_for(base, lambda h: h["pipeline"]["utterances"] >= 2 and not h["conversation"]["speaking"], 90)
                recorder.stop_once_past(time.monotonic())  # the tail of the last reply is in the file
            finally:
                recorder.stop()
            output = _stop(process)
    finally:
        scripted.close()
    with sqlite3.connect(state_dir / "papo.sqlite3") as db:
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


@pytest.mark.models
def test_health_reports_the_conversation_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    scripted = ScriptedLlm().start()
    monkeypatch.setenv("PAPO_LLM__ENDPOINT", scripted.url)
    try:
        with _daemon() as (process, base):
            early = _wait_for(base, lambda h: "conversation" in h, timeout=60)
            assert early["conversation"]["state"] in ("loading", "ready")
            health = _wait_for(base, lambda h: h["conversation"]["crew"] == "ready", timeout=120)
            assert health["conversation"]["state"] == "ready"
            assert health["conversation"]["llm"]["url"] == scripted.url
            assert health["conversation"]["voice"] == "espeak:pt-br:160"
            assert health["conversation"]["memories"] == 0
            _stop(process)
    finally:
        scripted.close()

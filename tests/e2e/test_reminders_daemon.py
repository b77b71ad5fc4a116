"""`papo run` and reminders under faults (issue 12): after a clock jump the missed reminders are mentioned once, not
said in a burst; a speaker that appears after the start is opened and the reminders waiting for it are then said.

The daemon speaks on the PulseAudio test rig's speaker (papo_speaker), recorded with parec.
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from papo.audio.wav import read_wav, write_wav
from papo.conversation.phrases import reminder_missed
from papo.conversation.sentences import sentences
from papo.settings import load_settings
from papo.speech.tts import CachedVoice
from papo.store import Reminder, Store, utc_now
from support.cli import papo
from support.daemon import daemon, stop_daemon, wait_for_health
from support.pulse import PulseRig
from support.wait import wait_until

CHORES = ["regar as plantas", "ligar para a Júlia", "dar comida ao gato", "fechar a janela", "tomar o remédio"]
LOUD = 0.02


def _seed(state_dir: Path, due_ago: timedelta) -> Reminder:
    """Store the chores as reminders due `due_ago` (a minute apart), as they were before the clock moved; the latest."""
    with Store(state_dir / "papo.sqlite3", load_settings().device_id) as store:
        added = [
            store.reminders.add(what, utc_now() - due_ago + timedelta(minutes=i), None) for i, what in enumerate(CHORES)
        ]
    return added[-1]


def _voiced_s(text: str) -> float:
    """How long the configured voice takes to say `text`, sentence by sentence (without pauses)."""
    voice = CachedVoice.configured(load_settings(), None)
    return sum(voice.speak(sentence)[0].seconds for sentence in sentences([text]))


def _pending(state_dir: Path) -> int:
    """How many reminders are still waiting to be said (read as another process would)."""
    with closing(sqlite3.connect(state_dir / "papo.sqlite3")) as db:
        return int(db.execute("SELECT count(*) FROM reminder WHERE status = 'pending'").fetchone()[0])


def _quiet_input(tmp_path: Path) -> str:
    quiet = tmp_path / "quiet.wav"
    write_wav(quiet, np.zeros(32_000, np.float32))
    return str(quiet)


def _speak_on_the_rig(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "PAPO_LLM__ENDPOINT": "http://127.0.0.1:9/v1", "PAPO_CONVERSATION__CREW": "false",
        "PAPO_AUDIO__OUTPUT_DEVICE": "papo_speaker", "PAPO_CACHE__ENABLED": "false",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)


def _missed(health: dict[str, Any]) -> int | None:
    """The count of missed reminders /health reports."""
    return health["conversation"].get("reminders", {}).get("missed")


def _loud_part(path: Path) -> np.ndarray:
    """The recorded speaker audio from its first loud sample to its last (16 kHz)."""
    samples = read_wav(path).samples
    loud = np.flatnonzero(np.abs(samples) > LOUD)
    assert len(loud), "nothing was played on the speaker"
    return samples[max(0, loud[0] - 4000) : loud[-1] + 4000]


@pytest.mark.models
def test_after_a_clock_jump_one_missed_reminder_is_mentioned_and_five_are_marked_missed(
    state_dir: Path, alsa_rig: PulseRig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    latest = _seed(state_dir, timedelta(days=1))  # due a day ago: the clock jumped a day past them
    _speak_on_the_rig(monkeypatch)
    speaker_wav = tmp_path / "speaker.wav"
    recorder = alsa_rig.record_speaker(speaker_wav)
    try:
        with daemon("--input", _quiet_input(tmp_path)) as (process, base):
            health = wait_for_health(base, lambda h: _missed(h) == 5 and not h["conversation"]["speaking"], 90)
            assert health["conversation"]["speaker"] is True and "no speaker" not in health["reasons"], health
            recorder.stop_once_past(time.monotonic())  # what was played is in the file
            output = stop_daemon(process)
    finally:
        recorder.stop()
    assert output.count('event="reminders missed"') == 1 and "count=5" in output, output[-3000:]
    assert 'event="reminder due"' not in output  # none said as if on time
    assert not any(chore in output for chore in CHORES)  # no words of a reminder in the log
    played_s = len(_loud_part(speaker_wav)) / 16_000
    mention_s = _voiced_s(reminder_missed(CHORES[-1], latest.due_at.astimezone(), "pt"))
    assert 0.6 * mention_s < played_s < 1.6 * mention_s, (played_s, mention_s)  # one mention, not five reminders
    listed = papo("reminders", "--all", "--json")
    assert listed.returncode == 0, listed.stderr
    reminders = json.loads(listed.stdout)
    assert sorted(r["what"] for r in reminders) == sorted(CHORES)
    assert {r["status"] for r in reminders} == {"missed"}
    table = papo("reminders", "--all")
    assert table.stdout.count("missed") == 5, table.stdout


@pytest.mark.audio
@pytest.mark.models
def test_a_speaker_that_appears_after_the_start_is_opened_and_the_waiting_reminder_is_then_said(
    state_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(state_dir, timedelta(minutes=10))  # due, within the grace: said as due once there is a speaker
    _speak_on_the_rig(monkeypatch)
    monkeypatch.setenv("PAPO_AUDIO__RETRY_MAX_S", "2")
    (tmp_path / "late").mkdir()
    rig = PulseRig(tmp_path / "late", start=False)  # ALSA knows papo_speaker, but no sound server runs yet
    for name, value in rig.env.items():
        monkeypatch.setenv(name, value)
    try:
        with daemon("--input", _quiet_input(tmp_path)) as (process, base):
            health = wait_for_health(base, lambda h: h["conversation"]["state"] == "ready", 90)
            assert health["conversation"]["speaker"] is False and "no speaker" in health["reasons"], health
            assert _pending(state_dir) == len(CHORES)  # not said into the void: still due
            rig.start()
            speaker_wav = tmp_path / "speaker.wav"
            recorder = rig.record_speaker(speaker_wav)
            try:
                health = wait_for_health(base, lambda h: h["conversation"]["speaker"] is True, 30)
                assert "no speaker" not in health["reasons"], health
                wait_until(lambda: _pending(state_dir) == 0, 60, "the reminders to be said")
                wait_for_health(base, lambda h: not h["conversation"]["speaking"], 60)
                recorder.stop_once_past(time.monotonic())
            finally:
                recorder.stop()
            output = stop_daemon(process)
    finally:
        rig.close()
    assert output.count('event="speaker open"') == 1, output[-3000:]
    assert output.count('event="reminder due"') == len(CHORES)
    statuses = {r["status"] for r in json.loads(papo("reminders", "--all", "--json").stdout)}
    assert statuses == {"spoken"}
    assert (np.abs(read_wav(speaker_wav).samples) > LOUD).sum() / 16_000 > 2  # the reminders were heard

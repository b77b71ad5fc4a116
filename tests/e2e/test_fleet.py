"""The daemon on the fleet: its turns reach PostgreSQL, it answers commands, takes versioned settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from papo.audio.wav import write_wav
from papo.speech.voicegen import with_silence
from papo_sync.cloud.ingest import Ingestor
from papo_sync.cloud.settings import CloudSettings
from support.broker import Broker, device_password
from support.speech import SpeechMaker
from support.wait import wait_until

pytestmark = [pytest.mark.services, pytest.mark.models]  # the daemon loads the models and syncs
PAPO = Path(sys.executable).with_name("papo")
PAPO_CLOUD = Path(sys.executable).with_name("papo-cloud")


def _cloud_env(cloud: CloudSettings) -> dict[str, str]:
    return {
        **os.environ, "PAPO_CLOUD_DATABASE_URL": cloud.database_url, "PAPO_CLOUD_REDIS_PREFIX": cloud.redis_prefix,
        "PAPO_CLOUD_BROKER__PORT": str(cloud.broker.port), "PAPO_CLOUD_BROKER__USERNAME": "fleet",
        "PAPO_CLOUD_BROKER__PASSWORD": "fleet-secret",
    }  # fmt: skip


def fleet(cloud: CloudSettings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PAPO_CLOUD), "fleet", *args], env=_cloud_env(cloud), capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip


def _daemon(state_dir: Path, broker: Broker, extra: list[str]) -> subprocess.Popen[str]:
    password = state_dir / "broker-password"
    password.write_text(device_password("dev-1"))
    password.chmod(0o600)  # papo refuses a password file others can read
    env = {
        **os.environ, "PAPO_DEVICE_ID": "dev-1", "PAPO_SYNC__ENABLED": "true", "PAPO_SYNC__PORT": str(broker.port),
        "PAPO_SYNC__TENANT": "acme", "PAPO_SYNC__PASSWORD_FILE": str(password), "PAPO_CONVERSATION__ENABLED": "false",
        "PAPO_SYNC__TELEMETRY_EVERY_S": "1",
        "PAPO_PRIVACY__KEEP_UNADDRESSED": "true",  # the recording is not said to Papo: keep it all the same
    }  # fmt: skip
    return subprocess.Popen([str(PAPO), "run", "--port", "0", *extra], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip


def test_the_daemon_syncs_answers_commands_and_takes_settings(
    state_dir: Path, tmp_path: Path, speech: SpeechMaker, broker: Broker, cloud: CloudSettings, ingestor: Ingestor,
    db: psycopg.Connection[Any],
) -> None:  # fmt: skip
    fleet_cloud = cloud
    recording = tmp_path / "sala.wav"
    write_wav(recording, with_silence([speech.say("Hoje eu fiz um bolo de fubá para o café da tarde.")], 1.0))
    daemon = _daemon(state_dir, broker, ["--input", str(recording)])
    try:
        wait_until(lambda: db.execute("SELECT count(*) FROM turn").fetchone()[0] >= 1, 120, "the turn in PostgreSQL")
        (text,) = db.execute("SELECT text FROM turn WHERE device_id = 'dev-1'").fetchone()
        assert "bolo" in text.lower()
        wait_until(lambda: db.execute("SELECT outbox_depth FROM device").fetchone()[0] == 0, 30, "telemetry")

        listed = json.loads(fleet(fleet_cloud, "devices", "--json").stdout)
        assert [(d["device_id"], d["presence"], d["outbox_depth"]) for d in listed] == [("dev-1", "online", 0)]
        turns = json.loads(fleet(fleet_cloud, "turns", "dev-1", "--json").stdout)
        assert [t["text"] for t in turns] == [text]

        ping = fleet(fleet_cloud, "cmd", "dev-1", "ping", "--json")
        assert ping.returncode == 0, ping.stderr
        assert json.loads(ping.stdout)["detail"] == "pong"

        accepted = fleet(fleet_cloud, "config", "set", "dev-1", "conversation.follow_up_s=45", "--json")
        assert json.loads(accepted.stdout) == [{"device": "dev-1", "version": 1}]
        wait_until(lambda: db.execute("SELECT count(*) FROM reported_state").fetchone()[0] == 1, 30, "the report")
        version, ok, _, later = db.execute(
            "SELECT version, accepted, reason, restart_needed FROM reported_state"
        ).fetchone()
        assert (version, ok, later) == (1, True, [])  # a conversation setting: applied at once
        kept = json.loads((state_dir / "fleet-settings.json").read_text())
        assert kept == {"conversation": {"follow_up_s": 45}}

        rejected = fleet(fleet_cloud, "config", "set", "dev-1", "stt.beam_size=99")
        assert rejected.returncode == 0
        wait_until(lambda: db.execute("SELECT version FROM reported_state").fetchone()[0] == 2, 30, "the refusal")
        _, ok, reason = db.execute("SELECT version, accepted, reason FROM reported_state").fetchone()
        assert ok is False and "beam_size" in reason
        assert json.loads((state_dir / "fleet-settings.json").read_text()) == kept  # unchanged

        assert fleet(fleet_cloud, "config", "set", "dev-1", "stt.beam_size=2").returncode == 0
        wait_until(lambda: db.execute("SELECT version FROM reported_state").fetchone()[0] == 3, 30, "the report")
        ok, later = db.execute("SELECT accepted, restart_needed FROM reported_state").fetchone()
        assert (ok, later) == (True, ["stt.beam_size"])  # kept, and said to wait for the next start

        stale = fleet(fleet_cloud, "config", "set", "dev-1", "conversation.follow_up_s=10", "--expect-version", "1")
        assert stale.returncode == 1 and "stale version" in stale.stderr

        erased = fleet(fleet_cloud, "cmd", "dev-1", "delete-history", "--json")
        erasure = json.loads(erased.stdout)["data"]
        assert erasure["turns"] == 1 and erasure["wiped"] is True, erased.stdout  # and wiped from every file
        wait_until(lambda: db.execute("SELECT count(*) FROM turn").fetchone()[0] == 0, 30, "the erasure in the cloud")
        assert db.execute("SELECT scope FROM tombstone").fetchone()[0] == "all_history"
    finally:
        daemon.terminate()
        daemon.communicate(timeout=30)  # and close its output pipe
    assert db.execute("SELECT presence FROM device").fetchone()[0] == "offline"

    unanswered = fleet(fleet_cloud, "cmd", "dev-1", "ping", "--timeout", "2")
    assert unanswered.returncode == 1 and "did not answer" in unanswered.stderr

    # offline: the new desired version waits (retained) and is applied when the device comes back
    assert fleet(fleet_cloud, "config", "set", "dev-1", "conversation.follow_up_s=30").returncode == 0
    daemon = _daemon(state_dir, broker, [])
    try:
        wait_until(lambda: db.execute("SELECT version FROM reported_state").fetchone()[0] == 4, 60, "the catch-up")
    finally:
        daemon.terminate()
        daemon.communicate(timeout=30)  # and close its output pipe
    assert json.loads((state_dir / "fleet-settings.json").read_text()) == {
        "conversation": {"follow_up_s": 30},
        "stt": {"beam_size": 2},
    }

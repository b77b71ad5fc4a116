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
from papo_sync.protocol import (
    Command,
    CommandName,
    CommandResult,
    DesiredState,
    command_result_topic,
    command_topic,
    shadow_delta_topic,
)
from support.broker import CLOUD_USERS, Broker, device_password
from support.fleet import FleetKey, Watcher
from support.speech import SpeechMaker
from support.wait import wait_until

pytestmark = [pytest.mark.services, pytest.mark.models]  # the daemon loads the models and syncs
PAPO = Path(sys.executable).with_name("papo")
PAPO_CLOUD = Path(sys.executable).with_name("papo-cloud")
TENANT = "acme"


def _cloud_env(cloud: CloudSettings) -> dict[str, str]:
    return {
        **os.environ, "PAPO_CLOUD_DATABASE_URL": cloud.database_url, "PAPO_CLOUD_REDIS_PREFIX": cloud.redis_prefix,
        "PAPO_CLOUD_BROKER__PORT": str(cloud.broker.port), "PAPO_CLOUD_BROKER__USERNAME": "fleet",
        "PAPO_CLOUD_BROKER__PASSWORD": "fleet-secret", "PAPO_CLOUD_FLEET_SIGNING_KEY": str(cloud.fleet_signing_key),
    }  # fmt: skip


def fleet(cloud: CloudSettings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PAPO_CLOUD), "fleet", *args], env=_cloud_env(cloud), capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip


def _daemon(state_dir: Path, broker: Broker, extra: list[str], fleet_key: Path | None) -> subprocess.Popen[str]:
    """`papo run` as dev-1 of tenant acme, trusting the fleet's public key `fleet_key` (None: no key)."""
    password = state_dir / "broker-password"
    password.write_text(device_password("dev-1"))
    password.chmod(0o600)  # papo refuses a password file others can read
    env = {
        **os.environ, "PAPO_DEVICE_ID": "dev-1", "PAPO_SYNC__ENABLED": "true", "PAPO_SYNC__PORT": str(broker.port),
        "PAPO_SYNC__TENANT": "acme", "PAPO_SYNC__PASSWORD_FILE": str(password), "PAPO_CONVERSATION__ENABLED": "false",
        "PAPO_SYNC__TELEMETRY_EVERY_S": "1",
        "PAPO_PRIVACY__KEEP_UNADDRESSED": "true",  # the recording is not said to Papo: keep it all the same
    }  # fmt: skip
    if fleet_key is not None:
        env["PAPO_SYNC__FLEET_PUBLIC_KEY"] = str(fleet_key)
    return subprocess.Popen([str(PAPO), "run", "--port", "0", *extra], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip


def test_the_daemon_syncs_answers_commands_and_takes_settings(
    state_dir: Path, tmp_path: Path, speech: SpeechMaker, broker: Broker, cloud: CloudSettings, ingestor: Ingestor,
    db: psycopg.Connection[Any], fleet_key: FleetKey,
) -> None:  # fmt: skip
    fleet_cloud = cloud
    recording = tmp_path / "sala.wav"
    write_wav(recording, with_silence([speech.say("Hoje eu fiz um bolo de fubá para o café da tarde.")], 1.0))
    daemon = _daemon(state_dir, broker, ["--input", str(recording)], fleet_key.public)
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
    daemon = _daemon(state_dir, broker, [], fleet_key.public)
    try:
        wait_until(lambda: db.execute("SELECT version FROM reported_state").fetchone()[0] == 4, 60, "the catch-up")
    finally:
        daemon.terminate()
        daemon.communicate(timeout=30)  # and close its output pipe
    assert json.loads((state_dir / "fleet-settings.json").read_text()) == {
        "conversation": {"follow_up_s": 30},
        "stt": {"beam_size": 2},
    }


def _report(db: psycopg.Connection[Any]) -> tuple[Any, ...] | None:
    row = db.execute("SELECT version, accepted, reason FROM reported_state WHERE device_id = 'dev-1'").fetchone()
    return None if row is None else tuple(row)


def _refused_with(db: psycopg.Connection[Any], reason: str) -> bool:
    report = _report(db)
    return report is not None and report[1] is False and reason in (report[2] or "")


def test_fleet_takeover_attempts_are_refused_with_the_reason_and_the_device_keeps_its_settings(
    state_dir: Path, tmp_path: Path, broker: Broker, cloud: CloudSettings, ingestor: Ingestor,
    db: psycopg.Connection[Any], fleet_key: FleetKey,
) -> None:  # fmt: skip
    """Over the real broker, as the fleet account: only what the fleet key signed, newer, and allowed is taken."""
    impostor = FleetKey.create(tmp_path / "impostor")  # a key the device was not given
    delta = shadow_delta_topic(TENANT, "dev-1")
    daemon = _daemon(state_dir, broker, [], fleet_key.public)
    account = Watcher(broker.port, "fleet", CLOUD_USERS["fleet"], [command_result_topic(TENANT, "dev-1", "+")])
    try:
        online = "SELECT presence FROM device WHERE device_id = 'dev-1'"
        wait_until(lambda: db.execute(online).fetchone() == ("online",), 120, "the daemon online")
        genuine = fleet_key.desired(1, {"conversation": {"follow_up_s": 45}})
        account.publish(delta, genuine)
        wait_until(lambda: _report(db) == (1, True, None), 30, "version 1 taken")
        account.publish(delta, fleet_key.desired(2, {"conversation": {"follow_up_s": 50}}))
        wait_until(lambda: _report(db) == (2, True, None), 30, "version 2 taken")
        kept = json.loads((state_dir / "fleet-settings.json").read_text())
        assert kept == {"conversation": {"follow_up_s": 50}}

        attempts = [
            (DesiredState(version=3, settings={"conversation": {"follow_up_s": 5}}).model_dump_json(), "unsigned: "),
            (impostor.desired(3, {"conversation": {"follow_up_s": 5}}), "bad signature: not signed by this device"),
            (genuine, "replayed: desired version 1 is older than 2"),  # the very bytes the fleet sent before
            (
                fleet_key.desired(3, {"llm": {"endpoint": "http://203.0.113.9/v1"}}),
                "fleet (set on the device only): llm.endpoint",
            ),
            (fleet_key.desired(4, {"server": {"host": "0.0.0.0"}}), "fleet (set on the device only): server.host"),
            (fleet_key.desired(5, {"device_id": "dev-2"}), "fleet (set on the device only): device_id"),
            (fleet_key.desired(6, {"conversation": {"wake_words": []}}), "wake_words: the fleet may not empty them"),
        ]
        for payload, reason in attempts:
            account.publish(delta, payload)
            wait_until(lambda reason=reason: _refused_with(db, reason), 30, f"the refusal {reason!r}")  # type: ignore[misc]
        assert _report(db)[0] == 6  # type: ignore[index]  # a signed one names its version; the rest, the one it runs

        unsigned = Command(command_id="x1", name=CommandName.DELETE_HISTORY).model_dump_json()
        account.publish(command_topic(TENANT, "dev-1", "x1"), unsigned)
        (refused,) = account.on(command_result_topic(TENANT, "dev-1", "x1"), 1)
        result = CommandResult.model_validate_json(refused.payload)
        assert (result.ok, result.detail) == (False, "refused: unsigned: not a message signed by the fleet key")
        ping = fleet_key.command("ping", "c1")
        for _ in range(2):  # sent, then the same bytes again
            account.publish(command_topic(TENANT, "dev-1", "c1"), ping)
        first, again = (CommandResult.model_validate_json(m.payload)
                        for m in account.on(command_result_topic(TENANT, "dev-1", "c1"), 2))  # fmt: skip
        assert (first.ok, first.detail) == (True, "pong")
        assert (again.ok, again.detail) == (False, "refused: replayed: command c1 was already handled")

        assert daemon.poll() is None  # still running, on the settings it had
        assert json.loads((state_dir / "fleet-settings.json").read_text()) == kept
        assert (
            json.loads(fleet(cloud, "cmd", "dev-1", "ping", "--json").stdout)["detail"] == "pong"
        )  # signed by the CLI
        (listed,) = json.loads(fleet(cloud, "devices", "--json").stdout)  # the daemon's /health verdict, via telemetry
        assert listed["health"] in ("ok", "degraded") and (listed["health"] == "ok") == (listed["health_reasons"] == [])
        table = fleet(cloud, "devices").stdout.splitlines()
        assert table[0].endswith("health") and listed["health"] in table[1]
    finally:
        account.close()
        daemon.terminate()
        output, _ = daemon.communicate(timeout=30)
    assert "llm.endpoint" in output and "203.0.113.9" not in output  # refusals logged with the key, never the value


def test_a_device_without_the_fleet_key_refuses_everything_and_says_so_once(
    state_dir: Path, broker: Broker, cloud: CloudSettings, ingestor: Ingestor, db: psycopg.Connection[Any],
    fleet_key: FleetKey,
) -> None:  # fmt: skip
    daemon = _daemon(state_dir, broker, [], None)
    try:
        online = "SELECT presence FROM device WHERE device_id = 'dev-1'"
        wait_until(lambda: db.execute(online).fetchone() == ("online",), 120, "the daemon online")
        ping = fleet(cloud, "cmd", "dev-1", "ping", "--json")
        assert ping.returncode == 1 and "no fleet public key" in json.loads(ping.stdout)["detail"]
        assert fleet(cloud, "config", "set", "dev-1", "conversation.follow_up_s=45").returncode == 0
        wait_until(lambda: _refused_with(db, "no fleet public key (set sync.fleet_public_key)"), 30, "the refusal")
        assert not (state_dir / "fleet-settings.json").exists() and daemon.poll() is None
    finally:
        daemon.terminate()
        output, _ = daemon.communicate(timeout=30)
    assert output.count("fleet's settings and commands will be refused") == 1

"""`papo-cloud devices add|remove|list` on a real Mosquitto: an enrolled device syncs, a revoked one cannot connect."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from papo.settings import load_settings
from papo_sync.cloud.cli import main
from papo_sync.cloud.ingest import Ingestor
from papo_sync.connection import new_client
from papo_sync.device.agent import AgentConfig, SyncAgent
from support.broker import Broker, free_port, make_tls
from support.sync_clients import count_turns, store_with_turns
from support.wait import wait_until

pytestmark = pytest.mark.services


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A broker with the cloud accounts and no device yet (devices are enrolled by the tests)."""
    running = Broker(tmp_path / "broker", {})
    yield running
    running.stop()


@pytest.fixture
def cloud_cli(
    broker: Broker, database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Any]:
    """Run `papo-cloud` in this process against the test database and broker; (exit code, stdout, stderr)."""
    for name, value in {
        "PAPO_CLOUD_DATABASE_URL": database, "PAPO_CLOUD_ENROL_BROKER_DIR": str(broker.files.directory),
        "PAPO_CLOUD_ENROL_HOST": "127.0.0.1", "PAPO_CLOUD_ENROL_PORT": str(broker.port),
        "PAPO_CLOUD_ENROL_DEVICE_DIR": str(tmp_path / "device"),
        "PAPO_CLOUD_FLEET_SIGNING_KEY": str(tmp_path / "cloud" / "fleet.key"),
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    yield run


def _connects(port: int, user: str, password: str, tls_ca: Path | None = None) -> bool:
    """Whether the broker on `port` accepts this user and password (CONNACK success)."""
    answered = threading.Event()
    result: list[bool] = []
    client = new_client("probe", user, password, tls_ca)
    client.on_connect = lambda _c, _u, _f, reason, _p: (result.append(not reason.is_failure), answered.set())
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        assert answered.wait(10)
    finally:
        client.disconnect()
        client.loop_stop()
    return result[0]


def _agent_config(settings_file: Path, monkeypatch: pytest.MonkeyPatch, state_dir: Path) -> AgentConfig:
    """The AgentConfig papo builds from the credentials file (as device/papo/fleet.py does)."""
    monkeypatch.setenv("PAPO_CONFIG", str(settings_file))
    settings = load_settings(state_dir=state_dir)
    sync = settings.sync
    assert sync.password_file is not None
    return AgentConfig(
        host=sync.host, port=sync.port, tenant=sync.tenant, device_id=settings.device_id,
        username=sync.username or settings.device_id, password=sync.password_file.read_text().strip(),
        tls_ca=sync.tls_ca, ack_timeout_s=3.0,
    )  # fmt: skip


def test_an_enrolled_device_syncs_and_a_revoked_one_cannot_connect(
    broker: Broker, cloud_cli: Any, ingestor: Ingestor, db: psycopg.Connection[Any], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    out = tmp_path / "device" / "sala-01.toml"
    code, _, error = cloud_cli("devices", "add", "sala-01", "--tenant", "familia-silva", "--out", str(out))
    assert code == 1 and "papo-cloud fleet keygen" in error  # no fleet key yet: nothing the device could trust
    assert cloud_cli("fleet", "keygen")[0] == 0
    code, printed, _ = cloud_cli("devices", "add", "sala-01", "--tenant", "familia-silva", "--out", str(out))
    assert code == 0, printed
    fleet_public = tmp_path / "device" / "sala-01.fleet.pub"
    assert fleet_public.read_bytes() == (tmp_path / "cloud" / "fleet.pub").read_bytes()
    password = (tmp_path / "device" / "sala-01.password").read_text().strip()
    assert f"password (shown only now): {password}" in printed and len(password) >= 40
    for secret in (out, out.with_suffix(".password")):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert password not in broker.files.passwords.read_text()  # only its hash is on the broker
    assert "user sala-01\ntopic write papo/v1/familia-silva/sala-01/state\n" in broker.files.acl.read_text()

    config = _agent_config(out, monkeypatch, tmp_path / "state")
    assert load_settings().sync.fleet_public_key == tmp_path / "device" / "sala-01.fleet.pub"
    assert (config.device_id, config.tenant, config.port) == ("sala-01", "familia-silva", broker.port)
    store = store_with_turns(tmp_path / "device.sqlite3", "sala-01", 20)
    agent = SyncAgent(config, store.outbox, session_seq=1)
    agent.start()
    try:
        assert agent.wait_until_drained(30)
        assert count_turns(db, "sala-01") == (20, 20)

        code, printed, _ = cloud_cli("devices", "remove", "sala-01")
        assert (code, printed.strip()) == (0, "sala-01 can no longer connect")
        wait_until(lambda: not agent.status.connected, 10, "the broker to drop the revoked device")
    finally:
        agent.stop()
    assert not _connects(broker.port, "sala-01", password)
    assert "sala-01" not in broker.files.acl.read_text()
    code, printed, _ = cloud_cli("devices", "list")
    (row,) = [line.split() for line in printed.splitlines() if line.startswith("sala-01 ")]
    assert row[:2] == ["sala-01", "familia-silva"] and row[-1] != "-"  # revoked at some time


def test_enrolment_refuses_a_second_tenant_and_bad_names(
    cloud_cli: Any, tmp_path: Path, db: psycopg.Connection[Any]
) -> None:
    out = str(tmp_path / "device" / "d.toml")
    assert cloud_cli("fleet", "keygen")[0] == 0
    assert cloud_cli("devices", "add", "dev-7", "--tenant", "acme", "--out", out)[0] == 0
    code, _, error = cloud_cli("devices", "add", "dev-7", "--tenant", "other", "--out", out)
    assert code == 1 and "enrolled in tenant 'acme'" in error and "devices remove dev-7" in error
    code, _, error = cloud_cli("devices", "add", "ingest", "--tenant", "acme", "--out", out)
    assert code == 1 and "cloud account" in error
    code, _, error = cloud_cli("devices", "add", "bad/name", "--tenant", "acme", "--out", out)
    assert code == 1 and "letters, digits" in error
    code, _, error = cloud_cli("devices", "remove", "nobody")
    assert code == 1 and "not enrolled" in error


def test_broker_setup_writes_a_tls_listener_for_devices_and_keeps_plaintext_on_loopback(
    cloud_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db: psycopg.Connection[Any]
) -> None:
    directory = tmp_path / "new-broker"
    local, public = free_port(), free_port()
    for name, value in {
        "PAPO_CLOUD_ENROL_BROKER_DIR": str(directory), "PAPO_CLOUD_ENROL_LOCAL_PORT": str(local),
        "PAPO_CLOUD_ENROL_LISTEN_PORT": str(public), "PAPO_CLOUD_ENROL_RUN_AS": os.environ.get("USER", "root"),
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    code, _, error = cloud_cli("broker", "setup")
    assert code == 1 and "PAPO_CLOUD_ENROL_TLS_CERT" in error  # 0.0.0.0 without a certificate
    ca, cert, key = make_tls(tmp_path / "tls")
    for name, path in (("CA", ca), ("CERT", cert), ("KEY", key)):
        monkeypatch.setenv(f"PAPO_CLOUD_ENROL_TLS_{name}", str(path))
    code, printed, _ = cloud_cli("broker", "setup")
    assert code == 0 and "new cloud account ingest" in printed and "new cloud account fleet" in printed
    assert "new fleet signing key" in printed and (tmp_path / "cloud" / "fleet.key").stat().st_mode & 0o077 == 0
    config = (directory / "mosquitto.conf").read_text()
    assert f"listener {local} 127.0.0.1\n" in config and f"listener {public} 0.0.0.0\ncafile {ca}\n" in config
    assert "user dev-1\n" in (directory / "acl").read_text()  # the enrolled devices of the database
    ingest_password = (directory / "ingest.password").read_text().strip()
    assert cloud_cli("broker", "setup")[1].count("new cloud account") == 0  # again: the accounts are kept
    with (directory / "mosquitto.log").open("ab") as log:
        process = subprocess.Popen(["mosquitto", "-c", str(directory / "mosquitto.conf")], stdout=log, stderr=log)
    try:
        wait_until(lambda: _listening(local) and _listening(public), 10, "the generated broker to listen")
        assert _connects(local, "ingest", ingest_password)
        assert not _connects(local, "ingest", "wrong")
        assert _connects(public, "ingest", ingest_password, tls_ca=ca)
    finally:
        process.terminate()
        process.wait(10)


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False

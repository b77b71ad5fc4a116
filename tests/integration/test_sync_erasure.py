"""Both ends of an erasure: the device's store erases and queues a tombstone, the cloud erases its copy
(PostgreSQL and Redis) and confirms it back, and the device records the confirmation (real broker, database, Redis)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from papo.store import NewTurn, Store
from papo_sync.cloud import cli
from papo_sync.cloud.ingest import Ingestor
from papo_sync.cloud.settings import CloudSettings
from papo_sync.device.agent import AgentConfig, SyncAgent
from support.broker import Broker, device_password
from support.markers import in_postgresql, in_redis
from support.wait import wait_until

pytestmark = pytest.mark.services

TENANT = "acme"
WAIT_S = 30.0


class Device:
    """A device's store and sync agent."""

    def __init__(self, store: Store, agent: SyncAgent) -> None:
        self.store = store
        self.agent = agent

    def say(self, *texts: str) -> list[str]:
        """Store what was said as turns and sync them; their turn ids."""
        turns = [
            self.store.turns.record(
                NewTurn(text=text, language="pt", audio_start_s=0, audio_end_s=1, audio_duration_s=1,
                        stt_model="whisper-base", stt_window="short", vad_model="silero"),
                "mic",
            )
            for text in texts
        ]  # fmt: skip
        self.sync()
        return [turn.id for turn in turns]

    def sync(self) -> None:
        """Send what the outbox holds and wait for the cloud's acks."""
        self.agent.nudge()
        assert self.agent.wait_until_drained(WAIT_S)

    def confirmed(self, request_id: str) -> bool:
        """Whether the cloud confirmed this erasure request."""
        request = self.store.erasures.get(request_id)
        return request is not None and request.confirmed_at is not None


@pytest.fixture
def devices(tmp_path: Path, broker: Broker, ingestor: Ingestor) -> Iterator[Callable[[str], Device]]:
    """Start a device (a store of its own and its agent) per device id asked for; stop them all at the end."""
    started: list[Device] = []

    def start(device_id: str) -> Device:
        store = Store(tmp_path / f"{device_id}.sqlite3", device_id, 300)
        config = AgentConfig(host="127.0.0.1", port=broker.port, tenant=TENANT, device_id=device_id,
                             username=device_id, password=device_password(device_id), ack_timeout_s=5.0)  # fmt: skip
        agent = SyncAgent(config, store.outbox, session_seq=1)
        agent.start()
        started.append(Device(store, agent))
        return started[-1]

    yield start
    for device in started:
        device.agent.stop()
        device.store.close()


def test_erase_all_on_a_device_leaves_no_trace_in_the_cloud_and_is_confirmed_back(
    devices: Callable[[str], Device],
    cloud: CloudSettings,
    database: str,
    db: psycopg.Connection[Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    device, other = devices("dev-1"), devices("dev-2")
    device.say("bom dia", "o meu gato se chama Zorblaxo", "até logo")
    other.say("o meu cachorro se chama Quibbertin")
    assert in_postgresql(database, "Zorblaxo") and in_redis(cloud, "Zorblaxo")

    request = device.store.erasures.erase_all().request
    device.sync()
    wait_until(lambda: device.confirmed(request.id), WAIT_S, "the cloud's confirmation on the device")

    assert not in_postgresql(database, "Zorblaxo") and not in_redis(cloud, "Zorblaxo")
    assert in_postgresql(database, "Quibbertin") and in_redis(cloud, "Quibbertin")
    monkeypatch.setenv("PAPO_CLOUD_DATABASE_URL", database)
    assert cli.main(["fleet", "erasures", "--json", "--device", "dev-1"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert (listed["msg_id"], listed["scope"], listed["late_dropped"]) == (request.id, "all_history", 0)
    assert listed["completed_at"] is not None


def test_forgetting_one_turn_on_a_device_erases_only_it_in_the_cloud(
    devices: Callable[[str], Device], cloud: CloudSettings, database: str, db: psycopg.Connection[Any]
) -> None:
    device = devices("dev-1")
    forgotten, kept = device.say("a senha do banco é Vorquilha", "a minha neta se chama Trelucia")

    erased = device.store.erasures.erase_turns(forgotten)
    assert erased is not None
    device.sync()
    wait_until(lambda: device.confirmed(erased.request.id), WAIT_S, "the cloud's confirmation on the device")

    assert not in_postgresql(database, "Vorquilha") and not in_redis(cloud, "Vorquilha")
    assert in_postgresql(database, "Trelucia") and in_redis(cloud, "Trelucia")
    assert [row[0] for row in db.execute("SELECT turn_id FROM turn")] == [kept]

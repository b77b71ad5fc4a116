"""Fixtures for sync tests: a test database (migrated), a Mosquitto of our own, cloud settings, an ingestor."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import psycopg

    from papo_sync.cloud.ingest import Ingestor
    from papo_sync.cloud.settings import CloudSettings
    from support.broker import Broker
    from support.fleet import FleetKey

# The cloud side is imported inside the fixtures: collecting the fast tier loads neither it nor its drivers.

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TENANT = "acme"  # the tenant of the `broker` fixture's devices (support.broker.TENANT)
ENROLLED = ("dev-1", "dev-2")


@pytest.fixture(scope="session")
def database() -> Iterator[str]:
    import psycopg

    from papo_sync.cloud.schema import migrate

    name = f"papo_test_{os.getpid()}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    migrate(url)
    yield url
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def db(database: str) -> Iterator[psycopg.Connection[Any]]:
    import psycopg

    from support.broker import enrol

    with psycopg.connect(database, autocommit=True) as connection:
        connection.execute(
            "TRUNCATE turn, wellbeing_event, tombstone, dead_letter, device, desired_state, reported_state, "
            "device_command, enrolment"
        )
        enrol(connection, dict.fromkeys(ENROLLED, TENANT))  # the devices of the `broker` fixture, in its tenant
        yield connection


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    from support.broker import Broker

    running = Broker(tmp_path / "broker", dict.fromkeys(ENROLLED, TENANT))
    yield running
    running.stop()


@pytest.fixture
def fleet_key(tmp_path: Path) -> FleetKey:
    """The fleet's signing key of a test: `cloud` signs with it, devices are given its public key."""
    from support.fleet import FleetKey

    directory = tmp_path / "fleet-key"
    directory.mkdir()
    return FleetKey.create(directory)


@pytest.fixture
def cloud(broker: Broker, database: str, fleet_key: FleetKey) -> CloudSettings:
    from papo_sync.cloud.settings import BrokerSettings, CloudSettings
    from support.broker import CLOUD_USERS

    return CloudSettings(
        database_url=database,
        redis_prefix=f"t{uuid.uuid4().hex[:8]}",
        broker=BrokerSettings(port=broker.port, username="ingest", password=CLOUD_USERS["ingest"]),
        batch_wait_ms=10,
        fleet_signing_key=fleet_key.private,
    )


@pytest.fixture
def ingestor(cloud: CloudSettings) -> Iterator[Ingestor]:
    from papo_sync.cloud.ingest import Ingestor

    running = Ingestor(cloud)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    assert running.connected.wait(10)
    yield running
    running.stop()
    thread.join(timeout=10)

"""Fixtures of the caregiver-alert tests: a clean alert database, a local SMTP server, a webhook receiver.

A pytest plugin (see `pytest_plugins` in tests/conftest.py); the servers are in support/alerts.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from support.alerts import HttpReceiver, SmtpServer


@pytest.fixture
def alert_db(db: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    """The test database with no caregiver, policy, alert, delivery, update or «estou bem» left from before."""
    db.execute("TRUNCATE caregiver, alert_policy, alert, alert_delivery, alert_update, wellbeing_ok")
    return db


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A local SMTP server (aiosmtpd) keeping what it receives."""
    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture
def hook() -> Iterator[HttpReceiver]:
    """A local webhook receiver keeping what it receives."""
    receiver = HttpReceiver()
    yield receiver
    receiver.stop()

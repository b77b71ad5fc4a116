"""The alert store against a real PostgreSQL: events open one alert each, claims are exclusive, a lost lease is
taken over and fenced, escalation and acknowledgement queue the device's updates in order."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from papo_sync.cloud.alerts import caregivers, store
from papo_sync.cloud.alerts.outcome import Outcome
from papo_sync.cloud.alerts.targets import NewCaregiver

pytestmark = pytest.mark.services
ACK_URL = "https://alerts.example.org/ack/{token}"


@pytest.fixture
def alerts_db(db: psycopg.Connection[Any], database: str) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    db.execute("TRUNCATE caregiver, alert_policy, alert, alert_delivery, alert_update")
    db.execute("INSERT INTO device (device_id, tenant, first_seen, last_seen) VALUES ('dev-1', 'acme', now(), now())")
    with psycopg.connect(database, autocommit=True, row_factory=dict_row) as own:
        yield own


def _event(db: psycopg.Connection[Any], severity: str = "high", age: str = "0 s") -> str:
    msg_id = uuid.uuid4().hex
    db.execute(
        "INSERT INTO wellbeing_event (device_id, msg_id, seq, kind, severity, evidence, source, created_at, "
        "received_at) VALUES ('dev-1', %s, 1, 'fall', %s, 'eu caí', 'rules', now(), now() - %s::interval)",
        (msg_id, severity, age),
    )
    return msg_id


def _caregiver(db: psycopg.Connection[dict[str, Any]], name: str, position: int = 1) -> int:
    target = {"channel": "email", "address": f"{name.lower()}@example.org"}
    return caregivers.add(db, NewCaregiver(tenant="acme", name=name, position=position, target=target))


def _states(db: psycopg.Connection[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [(r["state"], r["caregiver"]) for r in db.execute("SELECT state, caregiver FROM alert_update ORDER BY seq")]


def test_each_event_opens_one_alert_only_recent_ones_at_the_threshold(
    alerts_db: psycopg.Connection[dict[str, Any]],
) -> None:
    _caregiver(alerts_db, "Ana")
    fresh = _event(alerts_db)
    _event(alerts_db, severity="medium")
    _event(alerts_db, age="2 hours")
    assert len(store.open_alerts(alerts_db, 3600)) == 1
    assert store.open_alerts(alerts_db, 3600) == []  # never twice
    assert alerts_db.execute("SELECT msg_id, state FROM alert").fetchall() == [{"msg_id": fresh, "state": "delivering"}]
    caregivers.set_policy(alerts_db, "acme", "medium", 5, "America/Sao_Paulo")
    assert len(store.open_alerts(alerts_db, 3600)) == 1  # the medium one, under the tenant's own threshold


def test_a_claim_is_exclusive_and_a_lost_lease_is_taken_over_and_fenced(
    alerts_db: psycopg.Connection[dict[str, Any]], database: str
) -> None:
    _caregiver(alerts_db, "Ana")
    _event(alerts_db)
    store.open_alerts(alerts_db, 3600)
    with psycopg.connect(database, autocommit=True, row_factory=dict_row) as other:
        [first] = store.claim(alerts_db, 10, 0, "UTC", ACK_URL)  # a lease that ends at once: "this instance died"
        assert first.attempt == 1 and first.notice.heard == "eu caí" and "/ack/" in first.notice.ack_url
        [second] = store.claim(other, 10, 60, "UTC", ACK_URL)  # another instance takes it over
        assert second.attempt == 2 and second.delivery_id == first.delivery_id
        assert store.claim(alerts_db, 10, 60, "UTC", ACK_URL) == []  # held now
        store.record(alerts_db, first, Outcome(True), 6, 1.0, 60.0)  # the late first sender: fenced off
        row = alerts_db.execute("SELECT status, attempts, history FROM alert_delivery").fetchone()
        assert row is not None and (row["status"], row["attempts"], row["history"]) == ("sending", 2, [])
        store.record(other, second, Outcome(True, detail="accepted"), 6, 1.0, 60.0)
    row = alerts_db.execute("SELECT status, history FROM alert_delivery").fetchone()
    assert row is not None and row["status"] == "succeeded"
    assert [(h["attempt"], h["outcome"], h["detail"]) for h in row["history"]] == [(2, "succeeded", "accepted")]
    assert _states(alerts_db) == [("delivering", None), ("delivered", "Ana")]


def test_escalation_warns_the_next_position_then_everybody_and_an_ack_stops_it(
    alerts_db: psycopg.Connection[dict[str, Any]],
) -> None:
    for name, position in (("Ana", 1), ("Bia", 2), ("Caio", 3), ("Dani", 4)):
        _caregiver(alerts_db, name, position)
    _event(alerts_db)
    [alert_id] = store.open_alerts(alerts_db, 3600)
    assert store.escalate(alerts_db, 3600.0) == []  # not yet
    assert store.escalate(alerts_db, 0.0) == [alert_id]
    assert store.escalate(alerts_db, 0.0) == [alert_id]
    assert store.escalate(alerts_db, 0.0) == []  # everybody was warned: nothing more is due
    rows = alerts_db.execute("SELECT caregiver_name, step FROM alert_delivery ORDER BY caregiver_name").fetchall()
    assert [(r["caregiver_name"], r["step"]) for r in rows] == [("Ana", 0), ("Bia", 1), ("Caio", 2), ("Dani", 2)]
    assert store.acknowledge(alerts_db, alert_id, "Bia", "link") is True
    assert store.acknowledge(alerts_db, alert_id, "Ana", "link") is False  # once
    statuses = {r["status"] for r in alerts_db.execute("SELECT status FROM alert_delivery").fetchall()}
    assert statuses == {"cancelled"}  # nothing pending is sent after the acknowledgement
    assert _states(alerts_db) == [("delivering", None), ("acknowledged", "Bia")]
    with pytest.raises(LookupError):
        store.acknowledge(alerts_db, alert_id + 1000, None, "cli")


def test_updates_are_published_in_order_and_kept_while_the_broker_refuses(
    alerts_db: psycopg.Connection[dict[str, Any]],
) -> None:
    _event(alerts_db)
    store.open_alerts(alerts_db, 3600)  # no caregivers
    assert store.publish_updates(alerts_db, lambda _: False) == 0
    taken: list[store.Update] = []
    assert store.publish_updates(alerts_db, lambda u: taken.append(u) is None) == 1
    assert [(u.state.value, u.seq, u.device_id, u.tenant) for u in taken] == [("no_caregivers", 1, "dev-1", "acme")]
    assert store.publish_updates(alerts_db, lambda u: taken.append(u) is None) == 0  # published once

"""«estou bem» in the alert store against a real PostgreSQL: one "ok" update per caregiver the alert reached, the
escalation stopped once somebody was reached (and not before), the alert left open, nothing said twice."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from papo_sync.cloud.alerts import caregivers, fine, store
from papo_sync.cloud.alerts.outcome import Outcome
from papo_sync.cloud.alerts.targets import NewCaregiver

pytestmark = pytest.mark.services
ACK_URL = "https://alerts.example.org/ack/{token}"
Db = psycopg.Connection[dict[str, Any]]


@pytest.fixture
def alerts_db(db: psycopg.Connection[Any], database: str) -> Iterator[Db]:
    db.execute("TRUNCATE caregiver, alert_policy, alert, alert_delivery, alert_update, wellbeing_ok")
    db.execute("INSERT INTO device (device_id, tenant, first_seen, last_seen) VALUES ('dev-1', 'acme', now(), now())")
    with psycopg.connect(database, autocommit=True, row_factory=dict_row) as own:
        yield own


def _event(db: Db) -> str:
    msg_id = uuid.uuid4().hex
    db.execute(
        "INSERT INTO wellbeing_event (device_id, msg_id, seq, kind, severity, evidence, source, created_at, "
        "received_at) VALUES ('dev-1', %s, 1, 'fall', 'high', 'eu caí', 'rules', now(), now())",
        (msg_id,),
    )
    return msg_id


def _fine(db: Db, event: str) -> None:
    """The ingestor's row for the device's «estou bem» about `event`."""
    db.execute(
        "INSERT INTO wellbeing_ok (device_id, msg_id, seq, event_msg_id, said_at, received_at) "
        "VALUES ('dev-1', %s, 2, %s, now(), now())",
        (uuid.uuid4().hex, event),
    )


def _caregiver(db: Db, name: str, position: int = 1) -> int:
    target = {"channel": "email", "address": f"{name.lower()}@example.org"}
    return caregivers.add(db, NewCaregiver(tenant="acme", name=name, position=position, target=target))


def _deliver(db: Db) -> list[store.Claimed]:
    """Claim whatever is due and record each as taken by its channel; what was claimed."""
    claimed = store.claim(db, 10, 60, "UTC", ACK_URL)
    for one in claimed:
        store.record(db, one, Outcome(True), 6, 1.0, 60.0)
    return claimed


def _deliveries(db: Db) -> list[tuple[str, str, str]]:
    rows = db.execute("SELECT caregiver_name, kind, status FROM alert_delivery ORDER BY caregiver_name, kind")
    return [(r["caregiver_name"], r["kind"], r["status"]) for r in rows]


def _states(db: Db) -> list[tuple[str, str | None]]:
    return [(r["state"], r["caregiver"]) for r in db.execute("SELECT state, caregiver FROM alert_update ORDER BY seq")]


def test_each_caregiver_reached_gets_one_ok_update_and_nobody_new_is_warned(alerts_db: Db) -> None:
    ana, bia = _caregiver(alerts_db, "Ana"), _caregiver(alerts_db, "Bia")
    _caregiver(alerts_db, "Caio", position=2)
    event = _event(alerts_db)
    [alert_id] = store.open_alerts(alerts_db, 3600)
    claimed = store.claim(alerts_db, 10, 60, "UTC", ACK_URL)
    [to_ana] = [c for c in claimed if c.notice.caregiver == "Ana"]
    [to_bia] = [c for c in claimed if c.notice.caregiver == "Bia"]
    store.record(alerts_db, to_ana, Outcome(True), 6, 1.0, 60.0)
    store.record(alerts_db, to_bia, Outcome(False, True, "HTTP 503"), 6, 0.0, 0.0)  # Bia: not reached yet

    _fine(alerts_db, event)
    _fine(alerts_db, event)  # said twice: one update all the same
    assert fine.pass_on(alerts_db, 3600) == [alert_id]
    assert fine.pass_on(alerts_db, 3600) == []
    assert _deliveries(alerts_db) == [("Ana", "alert", "succeeded"), ("Ana", "ok", "pending"),
                                      ("Bia", "alert", "pending")]  # fmt: skip
    assert store.escalate(alerts_db, 0.0) == []  # somebody was reached: nobody new (Caio) is warned, however late

    sent = _deliver(alerts_db)  # Bia's alert goes through at last, and Ana's update
    by = {(c.notice.caregiver, c.kind): c for c in sent}
    assert set(by) == {("Ana", "ok"), ("Bia", "alert")}
    ok = by["Ana", "ok"]
    assert ok.notice.fine_at is not None and ok.idempotency_key == f"papo-alert-{alert_id}-{ana}-ok"
    assert by["Bia", "alert"].notice.fine_at is None and "/ack/" in ok.notice.ack_url
    [late] = _deliver(alerts_db)  # Bia, reached after «estou bem», is told at once
    assert (late.notice.caregiver, late.kind, late.idempotency_key) == ("Bia", "ok", f"papo-alert-{alert_id}-{bia}-ok")
    assert _deliver(alerts_db) == []
    assert _deliveries(alerts_db) == [("Ana", "alert", "succeeded"), ("Ana", "ok", "succeeded"),
                                      ("Bia", "alert", "succeeded"), ("Bia", "ok", "succeeded")]  # fmt: skip
    alert = alerts_db.execute("SELECT state, acknowledged_at, fine_at FROM alert").fetchone()
    assert alert is not None and alert["state"] == "delivered" and alert["acknowledged_at"] is None  # still open
    assert alert["fine_at"] is not None
    assert _states(alerts_db) == [("delivering", None), ("delivered", "Ana"), ("delivered", "Bia")]  # oks: silent
    [listed] = store.listing(alerts_db)
    assert [(d["caregiver"], d["update"], d["status"]) for d in listed["deliveries"]] == [
        ("Ana", "alert", "succeeded"), ("Bia", "alert", "succeeded"), ("Ana", "ok", "succeeded"),
        ("Bia", "ok", "succeeded"),
    ]  # fmt: skip


def test_while_nobody_was_reached_the_escalation_goes_on_and_the_one_reached_hears_the_update(alerts_db: Db) -> None:
    _caregiver(alerts_db, "Ana")
    _caregiver(alerts_db, "Bia", position=2)
    event = _event(alerts_db)
    [alert_id] = store.open_alerts(alerts_db, 3600)
    _fine(alerts_db, event)
    assert fine.pass_on(alerts_db, 3600) == [alert_id]
    assert _deliveries(alerts_db) == [("Ana", "alert", "pending")]  # nobody reached: no update to send
    assert store.escalate(alerts_db, 0.0) == [alert_id]  # a fall nobody knows of is still reported
    _deliver(alerts_db)  # Ana and Bia reached
    assert [(c.notice.caregiver, c.kind) for c in sorted(_deliver(alerts_db), key=lambda c: c.notice.caregiver)] == [
        ("Ana", "ok"), ("Bia", "ok"),
    ]  # fmt: skip
    assert store.escalate(alerts_db, 0.0) == []


def test_an_acknowledgement_leaves_the_ok_updates_to_go_out(alerts_db: Db) -> None:
    _caregiver(alerts_db, "Ana")
    event = _event(alerts_db)
    [alert_id] = store.open_alerts(alerts_db, 3600)
    _deliver(alerts_db)
    _fine(alerts_db, event)
    fine.pass_on(alerts_db, 3600)
    assert store.acknowledge(alerts_db, alert_id, "Ana", "link") is True
    assert _deliveries(alerts_db) == [("Ana", "alert", "succeeded"), ("Ana", "ok", "pending")]  # not cancelled
    [ok] = _deliver(alerts_db)
    assert ok.kind == "ok"
    assert _states(alerts_db) == [("delivering", None), ("delivered", "Ana"), ("acknowledged", "Ana")]

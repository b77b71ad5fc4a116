"""Alerts in PostgreSQL: opened once per event, deliveries claimed once, escalation, acks, the device's updates.

An alert is opened once per wellbeing event; its deliveries are claimed by one instance at a time; it is
escalated and acknowledged; the updates its device is owed wait in `alert_update` (an outbox) until published.
A delivery is of kind `alert` (the warning) or `ok` (the «estou bem» update, queued by `fine`): both are claimed,
leased, fenced and retried alike; only an `alert` delivery moves the alert's state.

Every claim is `FOR UPDATE SKIP LOCKED`: several `papo-cloud alerts` instances share the work and never take the
same row. State changes lock their alert row and append an `alert_update` in the same transaction.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from papo_sync.cloud.alerts import caregivers, fine, policy
from papo_sync.cloud.alerts.channels import Channel
from papo_sync.cloud.alerts.db import Db
from papo_sync.cloud.alerts.message import Notice
from papo_sync.cloud.alerts.outcome import Outcome
from papo_sync.protocol import AlertState

FAR_FUTURE = policy.FAR_FUTURE  # the step_at of an alert with nobody left to escalate to
_SEVERITY_RANK = "array_position(ARRAY['low','medium','high','critical']::text[], {})"

_OPEN = f"""
INSERT INTO alert (tenant, device_id, msg_id, kind, severity, state, step, step_at, event_at, received_at,
                   created_at, update_seq)
SELECT d.tenant, w.device_id, w.msg_id, w.kind, w.severity, 'delivering', 0, now(), w.created_at, w.received_at,
       now(), 0
FROM wellbeing_event w
JOIN device d ON d.device_id = w.device_id
LEFT JOIN alert_policy p ON p.tenant = d.tenant
WHERE w.received_at > now() - make_interval(secs => %(max_age_s)s)
  AND {_SEVERITY_RANK.format("w.severity")} >= {_SEVERITY_RANK.format("coalesce(p.threshold, 'high')")}
  AND NOT EXISTS (SELECT 1 FROM alert a WHERE a.device_id = w.device_id AND a.msg_id = w.msg_id)
ON CONFLICT (device_id, msg_id) DO NOTHING
RETURNING id, tenant
"""
_NEW_DELIVERY = """
INSERT INTO alert_delivery (alert_id, caregiver_id, caregiver_name, channel, step, status, next_attempt_at,
                            idempotency_key, created_at, kind)
SELECT %(alert_id)s, c.id, c.name, c.channel, %(step)s, 'pending', now(), %(key)s, now(), 'alert'
FROM caregiver c WHERE c.id = %(caregiver_id)s
ON CONFLICT (alert_id, caregiver_id, kind) DO NOTHING
"""
_TRANSITION = """
UPDATE alert SET state = %(state)s::text, update_seq = update_seq + 1,
    delivered_at = CASE WHEN %(state)s::text = 'delivered' THEN coalesce(delivered_at, now()) ELSE delivered_at END
WHERE id = %(alert_id)s RETURNING update_seq
"""
_QUEUE_UPDATE = """
INSERT INTO alert_update (alert_id, seq, state, caregiver, at) VALUES (%(alert_id)s, %(seq)s, %(state)s,
    %(caregiver)s, now())
"""
_DUE = """
SELECT id FROM alert_delivery
WHERE (status = 'pending' AND next_attempt_at <= now()) OR (status = 'sending' AND lease_until < now())
ORDER BY next_attempt_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED
"""
_CLAIM = """
UPDATE alert_delivery SET status = 'sending', attempts = attempts + 1, lease_until = now() + make_interval(secs =>
    %(lease_s)s), ack_token_sha256 = %(token_hash)s
WHERE id = %(id)s RETURNING attempts
"""
_CLAIMED = """
SELECT d.id, d.alert_id, d.step, d.idempotency_key, d.caregiver_name, d.caregiver_id, d.kind AS update_kind,
       c.channel, c.target, c.secret, a.tenant, a.device_id, a.msg_id, a.kind, a.severity, a.event_at, a.fine_at,
       w.evidence,
       coalesce(p.timezone, %(timezone)s) AS timezone
FROM alert_delivery d
JOIN alert a ON a.id = d.alert_id
LEFT JOIN caregiver c ON c.id = d.caregiver_id
LEFT JOIN wellbeing_event w ON w.device_id = a.device_id AND w.msg_id = a.msg_id
LEFT JOIN alert_policy p ON p.tenant = a.tenant
WHERE d.id = %(id)s
"""
_LOCK_ALERT = """
SELECT id, tenant, state, step, delivered_at, acknowledged_at, fine_at FROM alert WHERE id = %(id)s FOR UPDATE
"""
_FINISH = """
UPDATE alert_delivery SET status = %(status)s::text, lease_until = NULL, next_attempt_at = now() + make_interval(secs =>
    %(delay_s)s::float8), completed_at = CASE WHEN %(status)s::text IN ('succeeded', 'failed') THEN now() END,
    history = history || jsonb_build_array(jsonb_build_object('attempt', attempts, 'at', now(),
        'outcome', %(outcome)s::text, 'detail', %(detail)s::text))
WHERE id = %(id)s AND status = 'sending' AND attempts = %(attempt)s
"""
_STILL_OPEN = """
SELECT count(*) AS n FROM alert_delivery WHERE alert_id = %(id)s AND kind = 'alert' AND status IN ('pending', 'sending')
"""
_ESCALATE = """
SELECT a.id, a.tenant, a.step, a.state FROM alert a LEFT JOIN alert_policy p ON p.tenant = a.tenant
WHERE a.acknowledged_at IS NULL AND a.state <> 'no_caregivers'
  AND a.step_at + make_interval(secs => coalesce(%(override_s)s::float8, coalesce(p.escalate_after_min, 5) * 60.0))
      <= now()
ORDER BY a.step_at LIMIT 50 FOR UPDATE OF a SKIP LOCKED
"""
_NEXT_STEP = "UPDATE alert SET step = %(step)s, step_at = %(step_at)s WHERE id = %(id)s"
_WARNED = "SELECT caregiver_id FROM alert_delivery WHERE alert_id = %(id)s AND kind = 'alert'"
_BY_TOKEN = """
SELECT d.alert_id, d.caregiver_name, a.device_id, a.event_at, a.acknowledged_at, a.acknowledged_by,
       coalesce(p.timezone, %(timezone)s) AS timezone
FROM alert_delivery d JOIN alert a ON a.id = d.alert_id LEFT JOIN alert_policy p ON p.tenant = a.tenant
WHERE d.ack_token_sha256 = %(hash)s
"""
_ACK = """
UPDATE alert SET acknowledged_at = now(), acknowledged_by = %(by)s, ack_via = %(via)s WHERE id = %(id)s
"""
_CANCEL = """
UPDATE alert_delivery SET status = 'cancelled', completed_at = now()
WHERE alert_id = %(id)s AND kind = 'alert' AND status = 'pending'
"""
_UNPUBLISHED = """
SELECT u.id, u.seq, u.state, u.caregiver, u.at, a.id AS alert_id, a.msg_id, a.tenant, a.device_id
FROM alert_update u JOIN alert a ON a.id = u.alert_id
WHERE u.published_at IS NULL ORDER BY u.id LIMIT %(limit)s FOR UPDATE OF u SKIP LOCKED
"""
_PUBLISHED = "UPDATE alert_update SET published_at = now() WHERE id = ANY(%(ids)s)"
_NEXT_DUE = """
SELECT least(
    (SELECT min(next_attempt_at) FROM alert_delivery WHERE status = 'pending'),
    (SELECT min(lease_until) FROM alert_delivery WHERE status = 'sending')
) - now() AS wait
"""
_LIST = """
SELECT a.id, a.tenant, a.device_id, a.msg_id, a.kind, a.severity, a.state, a.step, a.created_at, a.delivered_at,
       a.acknowledged_at, a.acknowledged_by, a.ack_via, a.fine_at,
       coalesce((SELECT jsonb_agg(jsonb_build_object('caregiver', d.caregiver_name, 'channel', d.channel,
           'update', d.kind, 'step', d.step, 'status', d.status, 'attempts', d.attempts, 'history', d.history)
           ORDER BY d.id)
           FROM alert_delivery d WHERE d.alert_id = a.id), '[]'::jsonb) AS deliveries
FROM alert a WHERE %(tenant)s::text IS NULL OR a.tenant = %(tenant)s
ORDER BY a.id DESC LIMIT %(limit)s
"""


@dataclass(frozen=True)
class Claimed:
    """A delivery this instance holds (until its lease ends): what to send, by which channel, as which attempt."""

    delivery_id: int
    attempt: int
    idempotency_key: str
    notice: Notice
    channel: Channel | None  # None: the caregiver was removed since
    caregiver_id: int | None = None
    kind: str = "alert"  # alert (the warning) | ok (the «estou bem» update)


@dataclass(frozen=True)
class Update:
    """An AlertUpdate owed to a device."""

    id: int
    tenant: str
    device_id: str
    alert_id: int
    msg_id: str
    seq: int
    state: AlertState
    caregiver: str | None
    at: datetime


def token_hash(token: str) -> str:
    """How an acknowledgement token is stored: its SHA-256 (a stolen database acknowledges nothing)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """An acknowledgement token: 192 random bits, URL-safe."""
    return secrets.token_urlsafe(24)


def _transition(db: Db, alert_id: int, state: AlertState, caregiver: str | None = None) -> None:
    """Set the alert's state and queue the update that tells its device (inside the caller's transaction)."""
    row = db.execute(_TRANSITION, {"state": state.value, "alert_id": alert_id}).fetchone()
    assert row is not None
    db.execute(_QUEUE_UPDATE, {"alert_id": alert_id, "seq": row["update_seq"], "state": state.value,
                               "caregiver": caregiver})  # fmt: skip


def _warn(db: Db, alert_id: int, step: int, contacts: list[policy.Contact]) -> int:
    """Queue deliveries of step `step` to `contacts` (once each per alert); how many were queued."""
    queued = 0
    for contact in contacts:
        key = policy.delivery_key(alert_id, contact.id)
        queued += db.execute(
            _NEW_DELIVERY, {"alert_id": alert_id, "step": step, "key": key, "caregiver_id": contact.id}
        ).rowcount
    return queued


def open_alerts(db: Db, max_age_s: int) -> list[int]:
    """Open an alert for each recent wellbeing event at or above its tenant's threshold that has none yet.

    The first caregivers' deliveries are queued with it (or its state is no_caregivers); one transaction.
    """
    opened = []
    with db.transaction():
        for row in db.execute(_OPEN, {"max_age_s": max_age_s}).fetchall():
            alert_id = int(row["id"])
            first = policy.step_contacts(caregivers.contacts(db, row["tenant"]), 0)
            queued = _warn(db, alert_id, 0, first)
            _transition(db, alert_id, policy.first_state(queued > 0))
            opened.append(alert_id)
    return opened


def claim(db: Db, limit: int, lease_s: int, timezone: str, ack_url: str) -> list[Claimed]:
    """Take up to `limit` due deliveries (pending and due, or held by an instance whose lease ran out).

    Each attempt gets a new acknowledgement token; `ack_url` is formatted with it (`{token}`).
    """
    if limit <= 0:
        return []
    claimed = []
    with db.transaction():
        for due in db.execute(_DUE, {"limit": limit}).fetchall():
            token = new_token()
            attempt = db.execute(
                _CLAIM, {"id": due["id"], "lease_s": lease_s, "token_hash": token_hash(token)}
            ).fetchone()
            row = db.execute(_CLAIMED, {"id": due["id"], "timezone": timezone}).fetchone()
            assert attempt is not None and row is not None
            notice = Notice(
                alert_id=int(row["alert_id"]), tenant=row["tenant"], device_id=row["device_id"], msg_id=row["msg_id"],
                kind=row["kind"], severity=row["severity"], heard=row["evidence"], at=row["event_at"],
                timezone=row["timezone"], caregiver=row["caregiver_name"], ack_url=ack_url.format(token=token),
                step=int(row["step"]), fine_at=row["fine_at"] if row["update_kind"] == "ok" else None,
            )  # fmt: skip
            channel = None if row["channel"] is None else Channel(row["channel"], row["target"], row["secret"])
            caregiver_id = None if row["caregiver_id"] is None else int(row["caregiver_id"])
            claimed.append(Claimed(int(row["id"]), int(attempt["attempts"]), row["idempotency_key"], notice, channel,
                                   caregiver_id, row["update_kind"]))  # fmt: skip
    return claimed


def record(db: Db, claimed: Claimed, outcome: Outcome, max_attempts: int, retry_first_s: float,
           retry_max_s: float) -> None:  # fmt: skip
    """Record one attempt's outcome, schedule a retry or give up, and move the alert's state on.

    An `ok` update moves nothing on. An alert delivered after «estou bem» owes its caregiver the update too.
    """
    retry = not outcome.ok and outcome.retryable and claimed.attempt < max_attempts
    status = "succeeded" if outcome.ok else "pending" if retry else "failed"
    delay = policy.retry_delay(claimed.attempt, retry_first_s, retry_max_s) if retry else 0.0
    verdict = "succeeded" if outcome.ok else "retrying" if retry else "failed"
    with db.transaction():
        alert = db.execute(_LOCK_ALERT, {"id": claimed.notice.alert_id}).fetchone()
        finished = db.execute(
            _FINISH, {"status": status, "delay_s": delay, "outcome": verdict, "detail": outcome.detail[:300],
                      "id": claimed.delivery_id, "attempt": claimed.attempt},
        ).rowcount  # fmt: skip
        if alert is None or not finished:  # our lease ran out and another instance took the delivery over
            return
        if claimed.kind != "alert":
            return
        if outcome.ok and alert["fine_at"] is not None:  # reached after «estou bem»: told at once, nobody new warned
            fine.queue_ok(db, claimed.notice.alert_id, claimed.caregiver_id)
            fine.stop_escalation(db, claimed.notice.alert_id)
        still_open = db.execute(_STILL_OPEN, {"id": claimed.notice.alert_id}).fetchone()
        assert still_open is not None
        state = policy.after_delivery(
            AlertState(alert["state"]), outcome.ok, alert["delivered_at"] is not None, int(still_open["n"])
        )
        if state is None:
            return
        _transition(db, claimed.notice.alert_id, state, claimed.notice.caregiver if outcome.ok else None)
        if state == AlertState.FAILED:  # nobody reached at this step: escalate now, not after the delay
            db.execute(_NEXT_STEP, {"id": claimed.notice.alert_id, "step": alert["step"], "step_at": "-infinity"})


def escalate(db: Db, override_s: float | None) -> list[int]:
    """Move every unacknowledged alert whose step has lasted long enough on to its next step; their ids."""
    moved = []
    with db.transaction():
        for row in db.execute(_ESCALATE, {"override_s": override_s}).fetchall():
            alert_id, step = int(row["id"]), int(row["step"]) + 1
            contacts = caregivers.contacts(db, row["tenant"])
            warned = {r["caregiver_id"] for r in db.execute(_WARNED, {"id": alert_id}).fetchall()}
            fresh = [c for c in policy.step_contacts(contacts, step) if c.id not in warned]
            last = step >= len(policy.steps(contacts)) - 1
            db.execute(_NEXT_STEP, {"id": alert_id, "step": step, "step_at": FAR_FUTURE if last else "now"})
            if _warn(db, alert_id, step, fresh) and row["state"] == AlertState.FAILED.value:
                _transition(db, alert_id, AlertState.DELIVERING)
            moved.append(alert_id)
    return moved


def by_token(db: Db, token: str, timezone: str) -> dict[str, Any] | None:
    """The alert an acknowledgement token belongs to (device, when, whether acknowledged), or None."""
    row = db.execute(_BY_TOKEN, {"hash": token_hash(token), "timezone": timezone}).fetchone()
    return None if row is None else dict(row)


def acknowledge(db: Db, alert_id: int, by: str | None, via: str) -> bool:
    """Acknowledge an alert (pending deliveries are cancelled); False if it was already acknowledged.

    LookupError if there is no such alert.
    """
    with db.transaction():
        alert = db.execute(_LOCK_ALERT, {"id": alert_id}).fetchone()
        if alert is None:
            raise LookupError(f"no alert {alert_id}")
        if alert["acknowledged_at"] is not None:
            return False
        db.execute(_ACK, {"id": alert_id, "by": by, "via": via})
        db.execute(_CANCEL, {"id": alert_id})
        _transition(db, alert_id, AlertState.ACKNOWLEDGED, by)
    return True


def publish_updates(db: Db, publish: Callable[[Update], bool], limit: int = 100) -> int:
    """Hand unpublished updates to `publish(Update) -> bool` in order; mark those it took. How many it took."""
    with db.transaction():
        rows = db.execute(_UNPUBLISHED, {"limit": limit}).fetchall()
        done = []
        for row in rows:
            update = Update(
                id=int(row["id"]), tenant=row["tenant"], device_id=row["device_id"], alert_id=int(row["alert_id"]),
                msg_id=row["msg_id"], seq=int(row["seq"]), state=AlertState(row["state"]), caregiver=row["caregiver"],
                at=row["at"],
            )  # fmt: skip
            if not publish(update):
                break
            done.append(update.id)
        if done:
            db.execute(_PUBLISHED, {"ids": done})
    return len(done)


def next_due(db: Db) -> float | None:
    """Seconds until the next delivery is due (None when nothing waits)."""
    row = db.execute(_NEXT_DUE).fetchone()
    wait: timedelta | None = None if row is None else row["wait"]
    return None if wait is None else max(0.0, wait.total_seconds())


def listing(db: Db, tenant: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Alerts, newest first, with each delivery's attempts and outcomes."""
    rows = db.execute(_LIST, {"tenant": tenant, "limit": limit}).fetchall()
    return [dict(r) | {"deliveries": _json(r["deliveries"])} for r in rows]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value

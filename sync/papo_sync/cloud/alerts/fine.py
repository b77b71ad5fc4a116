"""«estou bem» in PostgreSQL: each caregiver an alert reached gets one "ok" update, and the escalation stops.

A `wellbeing_ok` row (stored by the ingestor) names the wellbeing event whose alert it answers. The first one of
an alert sets `alert.fine_at`, queues an `ok` delivery to every caregiver whose `alert` delivery succeeded (one per
caregiver: `UNIQUE (alert_id, caregiver_id, kind)`), and, once somebody was reached, ends the escalation
(`policy.escalation_stops`). A caregiver reached later (a retry that succeeds afterwards) is queued the update then
(`store.record`). The alert stays open: only an acknowledgement closes it. The deliveries are claimed, leased,
fenced and retried like the alert's own (`store`).
"""

from __future__ import annotations

from datetime import datetime

from papo_sync.cloud.alerts import policy
from papo_sync.cloud.alerts.db import Db

_FINE = """
SELECT a.id, a.delivered_at, w.said_at FROM wellbeing_ok w
JOIN alert a ON a.device_id = w.device_id AND a.msg_id = w.event_msg_id
WHERE w.received_at > now() - make_interval(secs => %(max_age_s)s) AND a.fine_at IS NULL
ORDER BY w.said_at LIMIT 50 FOR UPDATE OF a SKIP LOCKED
"""
_MARK = "UPDATE alert SET fine_at = %(said_at)s WHERE id = %(id)s"
_STOP = "UPDATE alert SET step_at = %(far)s WHERE id = %(id)s"
_REACHED = """
SELECT caregiver_id, caregiver_name, channel, step FROM alert_delivery
WHERE alert_id = %(id)s AND kind = 'alert' AND status = 'succeeded' AND caregiver_id IS NOT NULL
  AND (%(caregiver_id)s::bigint IS NULL OR caregiver_id = %(caregiver_id)s::bigint)
"""
_NEW_OK = """
INSERT INTO alert_delivery (alert_id, caregiver_id, caregiver_name, channel, step, status, next_attempt_at,
                            idempotency_key, created_at, kind)
VALUES (%(alert_id)s, %(caregiver_id)s, %(name)s, %(channel)s, %(step)s, 'pending', now(), %(key)s, now(), 'ok')
ON CONFLICT (alert_id, caregiver_id, kind) DO NOTHING
"""


def queue_ok(db: Db, alert_id: int, caregiver_id: int | None = None) -> int:
    """Queue the "ok" update to each caregiver the alert reached (or only `caregiver_id`); how many were new.

    Inside the caller's transaction, the alert row locked.
    """
    queued = 0
    for row in db.execute(_REACHED, {"id": alert_id, "caregiver_id": caregiver_id}).fetchall():
        cid = int(row["caregiver_id"])
        queued += db.execute(
            _NEW_OK,
            {"alert_id": alert_id, "caregiver_id": cid, "name": row["caregiver_name"], "channel": row["channel"],
             "step": row["step"], "key": policy.delivery_key(alert_id, cid, "ok")},
        ).rowcount  # fmt: skip
    return queued


def stop_escalation(db: Db, alert_id: int) -> None:
    """Warn nobody new about this alert (inside the caller's transaction, the alert row locked)."""
    db.execute(_STOP, {"id": alert_id, "far": policy.FAR_FUTURE})


def pass_on(db: Db, max_age_s: int) -> list[int]:
    """Take each recent «estou bem» whose alert has not had one yet: mark it, queue the updates; the alerts' ids."""
    passed: list[int] = []
    with db.transaction():
        for row in db.execute(_FINE, {"max_age_s": max_age_s}).fetchall():
            alert_id = int(row["id"])
            if alert_id in passed:  # «estou bem» said twice about one alert: the first one counts
                continue
            said_at: datetime = row["said_at"]
            db.execute(_MARK, {"id": alert_id, "said_at": said_at})
            queue_ok(db, alert_id)
            if policy.escalation_stops(fine=True, reached=row["delivered_at"] is not None):
                stop_escalation(db, alert_id)
            passed.append(alert_id)
    return passed

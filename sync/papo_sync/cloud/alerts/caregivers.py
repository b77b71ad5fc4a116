"""Caregivers and alert policies in PostgreSQL: add, list, remove, read, and the tenant's policy."""

from __future__ import annotations

from typing import Any

from papo_sync.cloud.alerts.db import Db
from papo_sync.cloud.alerts.policy import DEFAULT_ESCALATE_AFTER_MIN, DEFAULT_THRESHOLD, SEVERITIES, Contact
from papo_sync.cloud.alerts.targets import CaregiverError, NewCaregiver

_ADD = """
INSERT INTO caregiver (tenant, name, channel, target, secret, position, created_at)
VALUES (%(tenant)s, %(name)s, %(channel)s, %(target)s, %(secret)s, %(position)s, now()) RETURNING id
"""
_LIST = """
SELECT id, tenant, name, channel, target, position, created_at FROM caregiver
WHERE %(tenant)s::text IS NULL OR tenant = %(tenant)s ORDER BY tenant, position, id
"""
_ONE = "SELECT id, tenant, name, channel, target, secret, position FROM caregiver WHERE id = %(id)s"
_OF_TENANT = "SELECT id, name, position FROM caregiver WHERE tenant = %(tenant)s ORDER BY position, id"
_REMOVE = "DELETE FROM caregiver WHERE id = %(id)s"
_POLICY = """
INSERT INTO alert_policy (tenant, threshold, escalate_after_min, timezone)
VALUES (%(tenant)s, %(threshold)s, %(escalate_after_min)s, %(timezone)s)
ON CONFLICT (tenant) DO UPDATE SET threshold = EXCLUDED.threshold,
    escalate_after_min = EXCLUDED.escalate_after_min, timezone = EXCLUDED.timezone
"""
_READ_POLICY = "SELECT threshold, escalate_after_min, timezone FROM alert_policy WHERE tenant = %(tenant)s"


def add(db: Db, new: NewCaregiver) -> int:
    """Store a caregiver; its id."""
    target = new.target
    row = db.execute(
        _ADD,
        {"tenant": new.tenant, "name": new.name, "channel": target.channel, "target": target.target,
         "secret": getattr(target, "secret", None), "position": new.position},
    ).fetchone()  # fmt: skip
    assert row is not None
    return int(row["id"])


def listing(db: Db, tenant: str | None = None) -> list[dict[str, Any]]:
    """Every caregiver (of `tenant`), in the order they are warned; secrets are never listed."""
    return [dict(r) for r in db.execute(_LIST, {"tenant": tenant}).fetchall()]


def get(db: Db, caregiver_id: int) -> dict[str, Any]:
    """One caregiver with its channel's secret; CaregiverError if there is none with that id."""
    row = db.execute(_ONE, {"id": caregiver_id}).fetchone()
    if row is None:
        raise CaregiverError(f"no caregiver {caregiver_id}; see `papo-cloud caregivers list`")
    return dict(row)


def remove(db: Db, caregiver_id: int) -> None:
    """Remove a caregiver (alerts already sent keep their name); CaregiverError if there is none."""
    if db.execute(_REMOVE, {"id": caregiver_id}).rowcount == 0:
        raise CaregiverError(f"no caregiver {caregiver_id}; see `papo-cloud caregivers list`")


def contacts(db: Db, tenant: str) -> list[Contact]:
    """The tenant's caregivers as the escalation sees them."""
    rows = db.execute(_OF_TENANT, {"tenant": tenant}).fetchall()
    return [Contact(int(r["id"]), str(r["name"]), int(r["position"])) for r in rows]


def set_policy(db: Db, tenant: str, threshold: str, escalate_after_min: int, timezone: str) -> None:
    """Set a tenant's alert policy; CaregiverError for a severity or delay that cannot be."""
    if threshold not in SEVERITIES:
        raise CaregiverError(f"threshold must be one of {', '.join(SEVERITIES)}")
    if not 1 <= escalate_after_min <= 24 * 60:
        raise CaregiverError("escalate-after is 1 to 1440 minutes")
    db.execute(
        _POLICY,
        {"tenant": tenant, "threshold": threshold, "escalate_after_min": escalate_after_min, "timezone": timezone},
    )


def policy(db: Db, tenant: str, default_timezone: str) -> dict[str, Any]:
    """The tenant's policy, or the defaults (threshold high, escalate after 5 minutes)."""
    row = db.execute(_READ_POLICY, {"tenant": tenant}).fetchone()
    if row is None:
        return {"threshold": DEFAULT_THRESHOLD, "escalate_after_min": DEFAULT_ESCALATE_AFTER_MIN,
                "timezone": default_timezone}  # fmt: skip
    return dict(row)

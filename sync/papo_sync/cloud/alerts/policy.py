"""The alert rules as pure functions: thresholds, who each escalation step warns, retries, the alert's state."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from papo_sync.protocol import AlertState

SEVERITIES = ("low", "medium", "high", "critical")
DEFAULT_THRESHOLD = "high"
DEFAULT_ESCALATE_AFTER_MIN = 5
FAR_FUTURE = "9999-01-01T00:00:00Z"  # the step_at of an alert nobody more is to be warned of (last step, «estou bem»)


def at_or_above(severity: str, threshold: str) -> bool:
    """Whether an event of `severity` raises an alert under `threshold` (unknown severities never do)."""
    if severity not in SEVERITIES or threshold not in SEVERITIES:
        return False
    return SEVERITIES.index(severity) >= SEVERITIES.index(threshold)


@dataclass(frozen=True)
class Contact:
    """A caregiver as the escalation sees them: who, and their place in the order (lowest is warned first)."""

    id: int
    name: str
    position: int


def steps(contacts: Sequence[Contact]) -> list[list[Contact]]:
    """Who each escalation step warns: the first position, then the next one, then everybody not yet warned."""
    positions = sorted({c.position for c in contacts})
    ordered = sorted(contacts, key=lambda c: (c.position, c.id))
    groups = [[c for c in ordered if c.position == p] for p in positions]
    if len(groups) <= 2:
        return groups
    return [groups[0], groups[1], [c for group in groups[2:] for c in group]]


def step_contacts(contacts: Sequence[Contact], step: int) -> list[Contact]:
    """The caregivers step `step` warns (none past the last step)."""
    plan = steps(contacts)
    return plan[step] if 0 <= step < len(plan) else []


def escalation_due(step_at: datetime, now: datetime, escalate_after: timedelta) -> bool:
    """Whether an unacknowledged alert whose current step began at `step_at` goes on to the next step now."""
    return now >= step_at + escalate_after


def retry_delay(attempt: int, first_s: float, max_s: float) -> float:
    """Seconds before attempt `attempt + 1`, after `attempt` failed ones: exponential, capped."""
    return float(min(max_s, first_s * 2 ** max(0, attempt - 1)))


def retryable_status(status: int) -> bool:
    """Whether an HTTP answer means "try again later" (server errors, timeouts, rate limits)."""
    return status >= 500 or status in (408, 425, 429)


def after_delivery(state: AlertState, succeeded: bool, delivered_before: bool, still_open: int) -> AlertState | None:
    """The alert's new state after one delivery finished (None: unchanged, nothing to tell the device).

    `delivered_before`: some caregiver already received it; `still_open`: deliveries still pending or sending.
    An acknowledged alert stays so; a success makes it delivered (again, naming who); it is failed only when
    nobody ever received it and nothing is left to try at this step.
    """
    if state == AlertState.ACKNOWLEDGED:
        return None
    if succeeded:
        return AlertState.DELIVERED
    if not delivered_before and still_open == 0 and state != AlertState.FAILED:
        return AlertState.FAILED
    return None


def delivery_key(alert_id: int, caregiver_id: int, kind: str = "alert") -> str:
    """The Idempotency-Key of an alert's `kind` delivery (`alert` or `ok`) to a caregiver, the same on every retry."""
    base = f"papo-alert-{alert_id}-{caregiver_id}"
    return base if kind == "alert" else f"{base}-{kind}"


def escalation_stops(fine: bool, reached: bool) -> bool:
    """Whether «estou bem» ends the alert's escalation: once somebody was reached, nobody new is warned.

    While nobody has been reached the escalation goes on (a fall nobody knows of is still reported, followed by
    the "ok" update); the alert stays open either way until a caregiver acknowledges it.
    """
    return fine and reached


def first_state(has_caregivers: bool) -> AlertState:
    """The state a new alert starts in."""
    return AlertState.DELIVERING if has_caregivers else AlertState.NO_CAREGIVERS

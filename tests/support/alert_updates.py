"""The cloud's side of a caregiver alert, as the device sees it: AlertUpdates, signed as the alert service signs them.

Light on purpose (no broker, no database): the fast tier's device tests and the services tier both use it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from papo_sync.protocol import AlertState, AlertUpdate
from papo_sync.signing import sign_alert

TENANT, DEVICE = "acme", "dev-1"


def alert_update(
    state: AlertState | str, seq: int, msg_id: str = "event-1", caregiver: str | None = None, alert_id: str = "41"
) -> AlertUpdate:
    """An update of alert `alert_id` (about the wellbeing item `msg_id`) in `state`, its `seq`-th."""
    return AlertUpdate(
        alert_id=alert_id, msg_id=msg_id, seq=seq, state=AlertState(state), caregiver=caregiver, at=datetime.now(UTC)
    )


def signed_alert(
    key: Ed25519PrivateKey, update: AlertUpdate, device_id: str = DEVICE, tenant: str = TENANT,
    issued_at: datetime | None = None, ttl: timedelta = timedelta(hours=1),
) -> str:  # fmt: skip
    """`update` signed with `key` as the alert service signs it: the JSON published on the device's `alert` topic."""
    return sign_alert(update, tenant, device_id, key, issued_at or datetime.now(UTC), ttl).model_dump_json()


class ManualClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock on by `seconds`."""
        self.now += seconds


class Heard:
    """Collects what a callback is given (on any thread) and lets the test wait for it."""

    def __init__(self) -> None:
        self.items: list[object] = []
        self._arrived = threading.Condition()

    def __call__(self, item: object) -> None:
        with self._arrived:
            self.items.append(item)
            self._arrived.notify_all()

    def wait_for(self, predicate: Callable[[list[object]], bool], timeout_s: float = 10.0) -> list[object]:
        """The items, once `predicate(items)` holds (fail the test after `timeout_s`)."""
        with self._arrived:
            assert self._arrived.wait_for(lambda: predicate(self.items), timeout_s), f"never came: {self.items}"
            return list(self.items)

"""The alert rules: thresholds, who each escalation step warns, retry delays, and the alert's state machine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from papo_sync.cloud.alerts.policy import (
    Contact,
    after_delivery,
    at_or_above,
    escalation_due,
    first_state,
    retry_delay,
    retryable_status,
    step_contacts,
    steps,
)
from papo_sync.protocol import AlertState

ANA, BIA, CAIO, DANI = Contact(1, "Ana", 1), Contact(2, "Bia", 1), Contact(3, "Caio", 2), Contact(4, "Dani", 3)


@pytest.mark.parametrize(
    ("severity", "threshold", "alerts"),
    [("high", "high", True), ("critical", "high", True), ("medium", "high", False), ("low", "low", True),
     ("medium", "medium", True), ("unknown", "low", False), ("high", "bogus", False)],
)  # fmt: skip
def test_an_event_alerts_at_or_above_the_threshold(severity: str, threshold: str, alerts: bool) -> None:
    assert at_or_above(severity, threshold) is alerts


def test_the_first_position_first_then_the_next_then_everybody_left() -> None:
    assert steps([DANI, CAIO, BIA, ANA]) == [[ANA, BIA], [CAIO], [DANI]]
    five = [ANA, CAIO, DANI, Contact(5, "Eva", 4), Contact(6, "Fabio", 9)]
    assert [[c.name for c in s] for s in steps(five)] == [["Ana"], ["Caio"], ["Dani", "Eva", "Fabio"]]
    assert steps([ANA, BIA]) == [[ANA, BIA]]
    assert steps([]) == []
    assert step_contacts([ANA, CAIO], 1) == [CAIO]
    assert step_contacts([ANA, CAIO], 2) == []


def test_escalation_is_due_once_the_step_has_lasted_the_delay() -> None:
    began = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    delay = timedelta(minutes=5)
    assert not escalation_due(began, began + timedelta(minutes=4, seconds=59), delay)
    assert escalation_due(began, began + delay, delay)


def test_retries_back_off_exponentially_up_to_a_cap() -> None:
    assert [retry_delay(n, 1.0, 10.0) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


@pytest.mark.parametrize(("status", "retry"), [(500, True), (503, True), (429, True), (408, True), (400, False),
                                               (401, False), (404, False)])  # fmt: skip
def test_server_errors_and_rate_limits_are_retried_client_errors_are_not(status: int, retry: bool) -> None:
    assert retryable_status(status) is retry


def test_the_alert_state_moves_only_on_what_really_happened() -> None:
    assert first_state(True) == AlertState.DELIVERING
    assert first_state(False) == AlertState.NO_CAREGIVERS
    assert after_delivery(AlertState.DELIVERING, True, False, 1) == AlertState.DELIVERED
    assert after_delivery(AlertState.DELIVERED, True, True, 0) == AlertState.DELIVERED  # names the next one reached
    assert after_delivery(AlertState.DELIVERING, False, False, 1) is None  # another is still being tried
    assert after_delivery(AlertState.DELIVERING, False, False, 0) == AlertState.FAILED
    assert after_delivery(AlertState.DELIVERED, False, True, 0) is None  # somebody did get it
    assert after_delivery(AlertState.FAILED, False, False, 0) is None  # already said
    assert after_delivery(AlertState.FAILED, True, False, 0) == AlertState.DELIVERED
    assert after_delivery(AlertState.ACKNOWLEDGED, True, True, 0) is None  # final

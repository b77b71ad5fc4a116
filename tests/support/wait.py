"""Wait on a condition with a deadline: the tests' one way to synchronise with something happening elsewhere."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T], timeout: float, what: str | Callable[[], str] = "the condition", poll_s: float = 0.05
) -> T:
    """Return the first truthy value of `predicate()`; fail the test if none comes within `timeout` seconds.

    `predicate` checks the real state (a row in the database, a file's length, a process's answer); the poll
    interval only bounds how late the wait notices it, it never stands in for the thing happening. `what`
    names the awaited thing in the failure message (a callable is asked only then, e.g. for the last state seen).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what() if callable(what) else what}")
        time.sleep(poll_s)

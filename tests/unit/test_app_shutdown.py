"""Stopping the daemon: its background tasks get one shared wait, not one each, and a stuck one is named."""

from __future__ import annotations

import asyncio
import logging

import pytest

from papo import app


def test_the_tasks_share_one_wait_and_a_stuck_one_is_cancelled_and_named(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(app, "SHUTDOWN_WAIT_S", 0.2)
    outcome: dict[str, bool] = {}

    async def scenario() -> None:
        forever = asyncio.Event()
        stuck = [asyncio.create_task(forever.wait(), name=f"stuck-{n}") for n in range(3)]
        quick = asyncio.create_task(asyncio.sleep(0), name="quick")
        loop = asyncio.get_running_loop()
        started = loop.time()
        await app._finish([*stuck, quick])
        outcome["shared"] = loop.time() - started < 0.2 * 3  # three stuck tasks, one wait
        await asyncio.sleep(0)
        outcome["cancelled"] = all(task.cancelled() for task in stuck)

    with caplog.at_level(logging.WARNING, logger="papo.app"):
        asyncio.run(scenario())
    assert outcome == {"shared": True, "cancelled": True}
    [warning] = [r for r in caplog.records if r.getMessage() == "stopping without waiting for"]
    assert warning.tasks == "stuck-0,stuck-1,stuck-2"  # type: ignore[attr-defined]


def test_a_task_that_failed_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    async def broken() -> None:
        raise RuntimeError("boom")

    async def scenario() -> None:
        await app._finish([asyncio.create_task(broken(), name="reminders")])

    with caplog.at_level(logging.ERROR, logger="papo.app"):
        asyncio.run(scenario())
    [error] = [r for r in caplog.records if r.getMessage() == "background task failed"]
    assert error.task == "reminders" and "boom" in error.reason  # type: ignore[attr-defined]

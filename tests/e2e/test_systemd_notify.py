"""The daemon under a service manager's eyes: sd_notify for real, on a datagram socket the test owns.

`papo run` reports its start-up stages in order and READY=1 only once the pipeline is up, pings the watchdog
every WATCHDOG_USEC/2, and says STOPPING=1 on the way out. The real daemon on a microphone that hangs (the stall
hook: its frames stop arriving) stops pinging within WatchdogSec/2, while its web server still answers, and
pings again once frames flow: systemd would restart the hung papo and leave the recovered one alone.
"""

from __future__ import annotations

import itertools
import os
import signal
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from papo.audio.wav import write_wav
from support.browser import Daemon, daemon_env, running_command, running_daemon
from support.notify_socket import NotifySocket
from support.wait import wait_until

HANGING_DAEMON = Path(__file__).parents[1] / "support" / "hanging_daemon.py"
QUIET = {"PAPO_CONVERSATION__ENABLED": "false"}  # the voice pipeline only: no LLM to start


def _watchdog_env(watchdog_s: float) -> dict[str, str]:
    return {"WATCHDOG_USEC": str(int(watchdog_s * 1_000_000))}


@contextmanager
def _hanging_daemon(env: Mapping[str, str]) -> Iterator[Daemon]:
    """The real daemon on the hanging microphone (support/hanging_daemon.py) on a free port; killed on the way out."""
    with running_command(env, lambda port: [sys.executable, str(HANGING_DAEMON), str(port)]) as daemon:
        yield daemon


@pytest.mark.models
def test_papo_run_says_each_start_up_stage_then_ready_once_listening_pings_and_says_stopping(
    state_dir: Path, tmp_path: Path
) -> None:
    quiet = tmp_path / "quiet.wav"
    write_wav(quiet, np.zeros(16_000 * 60, np.float32))
    watchdog_s = 4.0
    with NotifySocket() as manager:
        env = daemon_env(state_dir, {**QUIET, **manager.env, **_watchdog_env(watchdog_s)})
        with running_daemon(env, "--input", str(quiet)) as daemon:
            states_before_ready: list[str] = []

            def ready() -> bool:
                if manager.values("READY"):
                    return True
                health = daemon.health()
                if health is not None:
                    states_before_ready.append(health["pipeline"]["state"])
                return False

            wait_until(ready, 120, "READY=1", poll_s=0.1)
            health = daemon.health()
            assert health is not None and health["pipeline"]["state"] == "listening", health
            # watched from before the pipeline was up (a poll may still land between "listening" and READY=1)
            assert states_before_ready and states_before_ready[0] != "listening", states_before_ready
            statuses = manager.values("STATUS")
            assert statuses == ["opening the store", "loading the speech models", "listening on file:quiet.wav"]
            ready_message = next(m for m in manager.messages() if m.get("READY"))
            assert ready_message.get("STATUS") == "listening on file:quiet.wav"
            extend = manager.values("EXTEND_TIMEOUT_USEC")
            assert extend and int(extend[0]) >= 60_000_000  # more time asked for while the models load

            wait_until(lambda: len(manager.arrivals("WATCHDOG", "1")) >= 3, 4 * watchdog_s, "three watchdog pings")
            pings = manager.arrivals("WATCHDOG", "1")
            gaps = [later - earlier for earlier, later in itertools.pairwise(pings)]
            assert all(watchdog_s / 2 - 1 < gap < watchdog_s for gap in gaps), gaps  # every WatchdogSec/2
            assert len(manager.values("READY")) == 1
            log = daemon.stop()
        assert daemon.process.returncode == 0, log[-3000:]
        wait_until(lambda: manager.values("STOPPING"), 10, "STOPPING=1")
        stopping = next(m for m in manager.messages() if m.get("STOPPING") == "1")
        assert stopping.get("STATUS") == "stopping"


@pytest.mark.models
def test_a_hung_microphone_stops_the_watchdog_pings_within_half_watchdog_sec_and_frames_bring_them_back(
    state_dir: Path,
) -> None:
    watchdog_s = 16.0  # pings every 8 s; frames missing for 5 s fail the check
    with NotifySocket() as manager:
        env = daemon_env(state_dir, {**QUIET, **manager.env, **_watchdog_env(watchdog_s)})
        with _hanging_daemon(env) as daemon:
            wait_until(lambda: manager.values("READY"), 120, "READY=1")
            assert manager.values("STATUS")[-1] == "listening on hanging microphone"
            wait_until(lambda: len(manager.arrivals("WATCHDOG", "1")) >= 2, 2 * watchdog_s, "two watchdog pings")

            os.kill(daemon.process.pid, signal.SIGUSR1)  # the microphone hangs: read() blocks, no frame arrives
            hung_at = time.monotonic()
            wait_until(lambda: "watchdog ping withheld" in daemon.log(), watchdog_s, "the watchdog to withhold a ping")
            assert "no audio frames for" in daemon.log()
            health = daemon.health()  # the web server is fine: it is the pipeline that hangs
            assert health is not None and health["pipeline"]["state"] == "listening"
            wait_until(lambda: time.monotonic() >= hung_at + watchdog_s, 2 * watchdog_s, "a whole WatchdogSec")
            late = [at - hung_at for at in manager.arrivals("WATCHDOG", "1") if at > hung_at + watchdog_s / 2]
            assert not late, f"pings {late} s after the microphone hung: systemd would not restart papo"

            os.kill(daemon.process.pid, signal.SIGUSR2)  # frames flow again
            freed_at = time.monotonic()
            wait_until(
                lambda: any(at > freed_at for at in manager.arrivals("WATCHDOG", "1")), watchdog_s, "pings again"
            )
            assert "watchdog checks pass again" in daemon.log()
            daemon.stop()

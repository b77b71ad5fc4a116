"""A watchdog that means something: WATCHDOG=1 only while papo's own checks pass, so systemd restarts a stuck papo.

An asyncio task on the daemon's event loop wakes every `tick_s` and notes how late it woke (the loop's lag). Every
`interval_s` (half of WatchdogSec) it judges the pipeline's vitals and pings only if all of these hold:
- the event loop did not lag more than `loop_lag_s` since the last ping (a blocked loop cannot ping at all);
- audio frames are arriving (no gap over `frame_gap_s`), or the input is being opened (for at most `open_s`), or
  it is known absent and its next try is due (a retry at most `wait_grace_s` overdue);
- no speech-to-text decode has run longer than `decode_s`.
A busy papo (a long decode, a slow answer) still passes; a stuck one stops pinging and is restarted after
WatchdogSec. The reasons are logged once when pinging stops, and recovery once when it starts again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from papo.system.logging import fields
from papo.system.notify import Notifier, watchdog_interval
from papo.system.vitals import InputPhase, Vitals

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """How much the watchdog tolerates before it stops vouching for papo (seconds)."""

    loop_lag_s: float = 5.0
    frame_gap_s: float = 5.0  # over the capture's read timeout (2 s): a lost device is reported before this
    open_s: float = 20.0
    wait_grace_s: float = 5.0
    decode_s: float = 60.0  # a long utterance on a Pi 4 decodes in well under this


def failing(vitals: Vitals, now: float, loop_lag_s: float, limits: Limits) -> list[str]:
    """The checks that fail now, in plain words (none: papo is alive and working)."""
    reasons = []
    if loop_lag_s > limits.loop_lag_s:
        reasons.append(f"event loop lagged {loop_lag_s:.1f} s")
    age = now - vitals.input_at
    if vitals.input_phase is InputPhase.READING and age > limits.frame_gap_s:
        reasons.append(f"no audio frames for {age:.1f} s")
    elif vitals.input_phase is InputPhase.OPENING and age > limits.open_s:
        reasons.append(f"opening the audio input for {age:.1f} s")
    elif vitals.input_phase is InputPhase.WAITING and age > limits.wait_grace_s:
        reasons.append(f"audio input retry {age:.1f} s overdue")
    since = vitals.decoding_since
    if since is not None and now - since > limits.decode_s:
        reasons.append(f"speech-to-text decode running for {now - since:.1f} s")
    return reasons


class Watchdog:
    """Pings systemd every `interval_s` while `failing()` finds nothing; `tick()` is one wake-up of `run()`."""

    def __init__(
        self,
        notifier: Notifier,
        vitals: Vitals,
        interval_s: float,
        limits: Limits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval_s = interval_s
        self.tick_s = min(1.0, interval_s / 4)
        self.limits = limits or Limits()
        self._notifier = notifier
        self._vitals = vitals
        self._clock = clock
        self._woke_at = clock()
        self._next_ping = self._woke_at + interval_s
        self._lag = 0.0
        self._withheld = False

    def tick(self) -> bool | None:
        """Note the loop's lag; at ping time, ping if the checks pass. True: pinged, False: withheld, None: not due."""
        now = self._clock()
        self._lag = max(self._lag, now - self._woke_at - self.tick_s)
        self._woke_at = now
        if now < self._next_ping:
            return None
        self._next_ping = max(self._next_ping + self.interval_s, now + self.tick_s)
        reasons = failing(self._vitals, now, self._lag, self.limits)
        self._lag = 0.0
        if reasons:
            if not self._withheld:
                log.warning("watchdog ping withheld", extra=fields(reasons="; ".join(reasons)))
            self._withheld = True
            return False
        if self._withheld:
            log.info("watchdog checks pass again")
            self._withheld = False
        self._notifier.alive()
        return True

    async def run(self, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        """Tick until cancelled (the daemon stops)."""
        self._woke_at = self._clock()
        self._next_ping = self._woke_at  # the first ping as soon as the checks can vouch for papo
        while True:
            await sleep(self.tick_s)
            self.tick()


def start_watchdog(
    notifier: Notifier, vitals: Vitals, environ: Mapping[str, str] = os.environ
) -> asyncio.Task[None] | None:
    """Start the watchdog task on the running loop when systemd asked for one (WatchdogSec=), else return None."""
    interval = watchdog_interval(environ)
    if interval is None or not notifier.enabled:
        return None
    log.info("watchdog on", extra=fields(interval_s=interval))
    return asyncio.create_task(Watchdog(notifier, vitals, interval).run(), name="watchdog")

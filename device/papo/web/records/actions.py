"""What the records pages and API do, on the parts the CLI uses: the store's repositories, the erasures, the scrubber.

Shared by the JSON API and the HTML pages, so both do exactly the same thing. Nothing here logs what was said.
"""

from __future__ import annotations

import logging
import math
from datetime import date

from papo.privacy.scrub import wipe_now
from papo.store import Erasure, ErasureScope
from papo.system.logging import fields
from papo.web.context import WebContext
from papo.web.records.models import DayOut, ErasureOut, HistoryOut, TurnOut

log = logging.getLogger(__name__)

PAGE_SIZE = 50


def history(ctx: WebContext, q: str, page: int) -> HistoryOut:
    """One page of the history (newest first) holding every word of `q`, grouped by the device's local day."""
    found = ctx.store.turns.search(q, PAGE_SIZE, (page - 1) * PAGE_SIZE)
    days: dict[date, list[TurnOut]] = {}
    for turn in found.turns:
        days.setdefault(turn.started_at.astimezone().date(), []).append(TurnOut.of(turn))
    return HistoryOut(
        q=q, page=page, pages=max(1, math.ceil(found.total / PAGE_SIZE)), total=found.total,
        days=[DayOut(day=day, turns=turns) for day, turns in days.items()],
    )  # fmt: skip


def _finished(ctx: WebContext, erasure: Erasure) -> ErasureOut:
    """Wipe the erasure from the memory index and cache now (the watcher retries on failure); what it removed."""
    wiped = wipe_now(ctx.scrubber)
    log.info(
        "erased from the web page",
        extra=fields(
            scope=erasure.request.scope.value, erasure_id=erasure.request.id, turns=erasure.turns, wiped=wiped
        ),
    )
    return ErasureOut.of(erasure, wiped, cloud_told=erasure.request.scope is not ErasureScope.MEMORIES)


def erase_turn(ctx: WebContext, turn_id: str) -> ErasureOut | None:
    """`papo forget ID`: erase one turn, Papo's answers to it and what came from them; None if there is none."""
    erasure = ctx.store.erasures.erase_turns(turn_id)
    return None if erasure is None else _finished(ctx, erasure)


def erase_everything(ctx: WebContext, include_reminders: bool) -> ErasureOut:
    """`papo forget --all`: erase everything kept of what was said (pending reminders too if asked)."""
    return _finished(ctx, ctx.store.erasures.erase_all(include_reminders))


def forget_memory(ctx: WebContext, memory_id: str) -> ErasureOut | None:
    """`papo memory forget ID`: forget one memory, wiped from the index too; None if there is none."""
    erasure = ctx.store.erasures.forget_memories([memory_id])
    return None if erasure is None else _finished(ctx, erasure)

"""Commit a round the database refuses part of: split it in halves down to the offenders and keep the rest.

A round is a list of units (a row of an item, a presence, a telemetry report, a dead letter…). When writing
some units fails because of their data (a DataError, a constraint, a value psycopg cannot send), the round is
bisected: every half that commits is kept, and a half of one unit that still fails is an offender, refused
with the database's reason. Any other database error (connection lost, server restarting) is transient: the
same part is written again once `retry` has waited, so a round is never lost to an outage nor stopped by data.
With k offenders among n units the round costs about 2·k·log2(n) extra transactions.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import psycopg

from papo_sync.cloud.decode import DeadLetter, PendingAck, Plan
from papo_sync.protocol import Rejected, SyncAck

log = logging.getLogger(__name__)

W = TypeVar("W")

# the order parts are committed in when split: dead letters before the tombstones that may erase them
_PARTS = ("dead", "tombstones", "turns", "wellbeing", "wellbeing_ok", "presence", "telemetry", "reported", "results")
_ROWS = ("tombstones", "turns", "wellbeing", "wellbeing_ok")  # the device's items: acked, or rejected when refused


@dataclass(frozen=True)
class Unit:
    """One thing a round writes: an entry of one of the Plan's lists (or a device only seen, for `seen`)."""

    part: str
    entry: Any

    @property
    def device_id(self) -> str | None:
        """The device the unit is about (its `seen` entry goes with it)."""
        if self.part == "seen":
            return str(self.entry)
        if self.part == "dead":
            return self.entry.device_id  # type: ignore[no-any-return]
        if self.part in _ROWS:
            return str(self.entry["device_id"])
        return str(self.entry[1] if self.part in ("presence", "telemetry") else self.entry[0])


@dataclass
class Outcome(Generic[W]):
    """What a split commit did: the writers' results, the units committed (as a Plan), the offenders and why."""

    written: list[W] = field(default_factory=list)
    committed: Plan = field(default_factory=Plan)
    refused: list[tuple[Unit, str]] = field(default_factory=list)


def units(plan: Plan) -> list[Unit]:
    """The units of `plan`, in commit order; a device seen with nothing else to write is a unit of its own."""
    found = [Unit(part, entry) for part in _PARTS for entry in getattr(plan, part)]
    named = {unit.device_id for unit in found}
    return found + [Unit("seen", device_id) for device_id in plan.seen if device_id not in named]


def assemble(parts: Iterable[Unit], seen: dict[str, Any]) -> Plan:
    """A Plan of these units, with the `seen` entries of their devices (no acks: they are the caller's)."""
    plan = Plan()
    for unit in parts:
        if unit.part != "seen":
            getattr(plan, unit.part).append(unit.entry)
        device_id = unit.device_id
        if device_id is not None and device_id in seen:
            plan.seen[device_id] = seen[device_id]
    return plan


def is_data_error(exc: BaseException) -> bool:
    """Whether writing failed because of what was written (split it) rather than of the database (retry it)."""
    if isinstance(exc, psycopg.Error):
        return isinstance(exc, psycopg.DataError | psycopg.IntegrityError | psycopg.errors.ProgramLimitExceeded)
    return True  # raised before the server saw it: a value psycopg could not send


def _reason(exc: BaseException) -> str:
    first = (str(exc).strip().splitlines() or [""])[0]
    where = "refused by the database" if isinstance(exc, psycopg.Error) else "cannot be stored"
    return f"{where}: {type(exc).__name__}: {first}"[:480]


def commit(plan: Plan, write: Callable[[Plan], W], retry: Callable[[BaseException], bool]) -> Outcome[W] | None:
    """Write `plan` with `write` (one transaction per call), splitting on data errors; None if `retry` gives up.

    `retry(exc)` is asked after a transient error: it waits (backing off, reconnecting) and says whether to try
    the same part again; False stops (parts already committed stay committed; nothing is acked).
    """
    outcome: Outcome[W] = Outcome()
    kept: list[Unit] = []
    todo = [units(plan)]
    while todo:
        part = todo.pop()
        try:
            outcome.written.append(write(assemble(part, plan.seen)))
        except Exception as exc:  # a value no layer foresaw must not stop ingestion either
            if not is_data_error(exc):
                if not retry(exc):
                    return None
                todo.append(part)
            elif len(part) == 1:
                log.warning("an item refused by the database", extra={"part": part[0].part, "reason": _reason(exc)})
                outcome.refused.append((part[0], _reason(exc)))
            else:
                middle = len(part) // 2
                todo += [part[middle:], part[:middle]]  # the first half first
            continue
        kept.extend(part)
    outcome.committed = assemble(kept, plan.seen)
    return outcome


def dead_letters(refused: Iterable[tuple[Unit, str]], topic_of: Callable[[str], str]) -> list[DeadLetter]:
    """The dead letters of refused units (a refused dead letter itself is only logged: it cannot be kept)."""
    letters = []
    for unit, reason in refused:
        if unit.part == "dead":
            log.error("a dead letter refused by the database", extra={"reason": reason})
            continue
        device_id = unit.device_id
        topic = topic_of(device_id) if device_id is not None else ""
        payload = json.dumps(unit.entry, default=_plain, ensure_ascii=False).encode(errors="replace")
        letters.append(DeadLetter.of(topic, device_id, f"{unit.part}: {reason}", payload))
    return letters


def _plain(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    return dump(mode="json") if callable(dump) else str(value)


def answered(acks: Iterable[PendingAck], refused: Iterable[tuple[Unit, str]]) -> list[PendingAck]:
    """`acks` with each refused item of a device moved from `acked` to `rejected`, with the database's reason."""
    reasons = {
        (unit.entry["device_id"], unit.entry["msg_id"]): reason for unit, reason in refused if unit.part in _ROWS
    }
    if not reasons:
        return list(acks)
    result = []
    for pending in acks:
        keys = [(pending.device_id, m) for m in pending.ack.acked]
        if not any(key in reasons for key in keys):
            result.append(pending)
            continue
        ack = SyncAck(
            batch_id=pending.ack.batch_id,
            acked=[m for d, m in keys if (d, m) not in reasons],
            rejected=[
                *pending.ack.rejected,
                *(Rejected(msg_id=m, reason=reasons[d, m]) for d, m in keys if (d, m) in reasons),
            ],
            erased=pending.ack.erased,
        )
        result.append(PendingAck(pending.tenant, pending.device_id, ack))
    return result

"""Erasure in the cloud: what a replicated tombstone deletes, how late items stay out, when it is complete.

A tombstone of scope `all_history` erases the device's turns and wellbeing events with a lower seq and all of
its dead letters; one of scope `turns` erases the listed turns, the wellbeing events about them and the dead
letters that mention them. Items it covers that arrive later (older messages still in flight) are dropped
and counted on the tombstone row. The erasure is complete when PostgreSQL has committed it and the Redis
live view is clean of it (`completed_at`); only then is it confirmed to the device (`SyncAck.erased`).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.expression import ColumnElement, FromClause, Update

from papo_sync.cloud.decode import PendingAck, Plan
from papo_sync.cloud.schema import dead_letter, device, sql, tombstone, turn, wellbeing_event
from papo_sync.protocol import MAX_BATCH_ITEMS, SyncAck


@dataclass(frozen=True)
class Erasure:
    """One tombstone of one device, as the live view and the confirmation need it."""

    tenant: str
    device_id: str
    msg_id: str
    seq: int
    scope: str
    turn_ids: frozenset[str]

    @classmethod
    def of_row(cls, tenant: str, row: dict[str, Any]) -> Erasure:
        """From a tombstone row (its `turn_ids` a JSON text, as planned, or a list, as read back)."""
        ids = row["turn_ids"]
        return cls(
            tenant, row["device_id"], row["msg_id"], int(row["seq"]), row["scope"],
            frozenset(json.loads(ids) if isinstance(ids, str) else ids),
        )  # fmt: skip

    def covers(self, seq: int | None, turn_id: str | None) -> bool:
        """Whether an item of this device (its seq, the turn it is about) is erased by this tombstone."""
        if self.scope == "all_history":
            return seq is None or seq < self.seq
        return turn_id is not None and turn_id in self.turn_ids


def of_plan(plan: Plan) -> list[Erasure]:
    """The erasures a plan's tombstones ask for (their devices' tenants are those the plan saw)."""
    return [Erasure.of_row(plan.seen[row["device_id"]][0], row) for row in plan.tombstones]


# -- PostgreSQL: the rules, as SQL over any table of device items (turn, wellbeing_event, their staging twins)


def covers(erased: FromClause, item: FromClause) -> ColumnElement[bool]:
    """SQL: the tombstone row `erased` erases the row `item` (same device; earlier, or about a listed turn)."""
    return sa.and_(
        erased.c.device_id == item.c.device_id,
        sa.or_(
            sa.and_(erased.c.scope == "all_history", erased.c.seq > item.c.seq),
            sa.and_(erased.c.scope == "turns", erased.c.turn_ids.has_key(item.c.turn_id)),
        ),
    )


def not_erased(staged: FromClause) -> ColumnElement[bool]:
    """SQL: no tombstone erases the staged row (batches arrive in any order: erased stays erased)."""
    erased = tombstone.alias("t")
    return ~sa.exists().where(covers(erased, staged))


def count_late(staged: FromClause) -> Update:
    """SQL: add to each tombstone's `late_dropped` the staged rows it erases.

    Each row is counted once, on the earliest tombstone covering it; a late item delivered again after a lost
    ack is counted again.
    """
    erased = tombstone.alias("t")
    ranked = (
        sa.select(
            staged.c.device_id,
            erased.c.msg_id.label("tombstone"),
            sa.func.row_number()
            .over(partition_by=(staged.c.device_id, staged.c.msg_id), order_by=erased.c.seq)
            .label("rank"),
        )
        .select_from(staged.join(erased, covers(erased, staged)))
        .subquery("ranked")
    )
    late = sa.select(ranked.c.device_id, ranked.c.tombstone).where(ranked.c.rank == sa.literal_column("1")).subquery()
    counts = (
        sa.select(late.c.device_id, late.c.tombstone, sa.func.count().label("n"))
        .group_by(late.c.device_id, late.c.tombstone)
        .subquery("counts")
    )
    return (
        sa.update(tombstone)
        .where(tombstone.c.device_id == counts.c.device_id, tombstone.c.msg_id == counts.c.tombstone)
        .values(late_dropped=tombstone.c.late_dropped + counts.c.n)
    )


_DEVICE: sa.BindParameter[str] = sa.bindparam("device_id")
_TURN_IDS = sa.cast(sa.bindparam("turn_ids"), ARRAY(sa.Text))
_MENTIONED = sa.func.unnest(_TURN_IDS).table_valued("turn_id").render_derived(name="mentioned")
_ITEMS = (turn, wellbeing_event)
_ERASE = {
    "all_history": [
        *(sql(sa.delete(t).where(t.c.device_id == _DEVICE, t.c.seq < sa.bindparam("seq"))) for t in _ITEMS),
        sql(sa.delete(dead_letter).where(dead_letter.c.device_id == _DEVICE)),
    ],
    "turns": [
        *(sql(sa.delete(t).where(t.c.device_id == _DEVICE, t.c.turn_id == sa.any_(_TURN_IDS))) for t in _ITEMS),
        sql(
            sa.delete(dead_letter).where(
                dead_letter.c.device_id == _DEVICE,
                sa.exists(sa.select(1).select_from(_MENTIONED)
                          .where(sa.func.strpos(dead_letter.c.payload, _MENTIONED.c.turn_id) > sa.literal_column("0"))),
            )
        ),
    ],
}  # fmt: skip


def apply(cursor: psycopg.Cursor[Any], rows: Sequence[dict[str, Any]]) -> None:
    """Delete what the planned tombstone `rows` erase (idempotent: a tombstone seen again deletes nothing new)."""
    for row in rows:
        params = {"device_id": row["device_id"], "seq": row["seq"], "turn_ids": json.loads(row["turn_ids"])}
        for statement in _ERASE[row["scope"]]:
            cursor.execute(statement, params)


# Writers of one device's items and of its tombstones are serialised: without it, a turn inserted by one
# ingestor while another commits a tombstone erasing it would be invisible to both and survive the erasure.
_LOCK = (
    "SELECT CASE WHEN x.exclusive THEN pg_advisory_xact_lock(x.key) ELSE pg_advisory_xact_lock_shared(x.key) END "
    "FROM unnest(%(keys)s::bigint[], %(exclusive)s::boolean[]) AS x(key, exclusive)"
)


def _lock_key(device_id: str) -> int:
    digest = hashlib.blake2b(f"papo-erasure:{device_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def serialize(cursor: psycopg.Cursor[Any], plan: Plan) -> None:
    """Lock the plan's devices until the commit: shared to add items, exclusive to erase (in one global order)."""
    erasing = {row["device_id"] for row in plan.tombstones}
    adding = {row["device_id"] for row in (*plan.turns, *plan.wellbeing)} - erasing
    locks = sorted({_lock_key(d): d in erasing for d in erasing | adding}.items())
    if locks:
        cursor.execute(_LOCK, {"keys": [k for k, _ in locks], "exclusive": [e for _, e in locks]})


# -- completion

_COLUMNS = (
    device.c.tenant, tombstone.c.device_id, tombstone.c.msg_id, tombstone.c.seq, tombstone.c.scope,
    tombstone.c.turn_ids,
)  # fmt: skip
_WITH_TENANT = tombstone.join(device, device.c.device_id == tombstone.c.device_id)
_PENDING = sql(
    sa.select(*_COLUMNS)
    .select_from(_WITH_TENANT)
    .where(tombstone.c.completed_at.is_(None))
    .order_by(tombstone.c.applied_at, tombstone.c.device_id, tombstone.c.seq)
    .limit(sa.bindparam("limit"))
)
_SINCE = (
    sa.func.unnest(
        sa.cast(sa.bindparam("devices"), ARRAY(sa.Text)), sa.cast(sa.bindparam("seqs"), ARRAY(sa.BigInteger))
    )
    .table_valued("device_id", "seq")
    .render_derived(name="since")
)
_AFTER = sql(
    sa.select(*_COLUMNS).select_from(
        _WITH_TENANT.join(_SINCE, sa.and_(_SINCE.c.device_id == tombstone.c.device_id, tombstone.c.seq > _SINCE.c.seq))
    )
)
_COMPLETE = sql(
    sa.update(tombstone)
    .where(tombstone.c.device_id == _DEVICE, tombstone.c.msg_id == sa.bindparam("msg_id"))
    .values(completed_at=sa.func.coalesce(tombstone.c.completed_at, sa.bindparam("at")))
)


def pending(connection: psycopg.Connection[Any], limit: int = MAX_BATCH_ITEMS) -> list[Erasure]:
    """Erasures applied in PostgreSQL whose live-view cleaning is not done yet (oldest first, at most `limit`)."""
    return _read(connection, _PENDING, {"limit": limit})


def after(connection: psycopg.Connection[Any], seqs: dict[str, int]) -> list[Erasure]:
    """The tombstones of these devices that come after the given seq (device id → seq), committed by now.

    A turn streamed to the live view just after its commit may land after the live-view cleaning of a tombstone
    another ingestor committed meanwhile; looking for such tombstones once it is streamed closes that gap.
    """
    if not seqs:
        return []
    return _read(connection, _AFTER, {"devices": list(seqs), "seqs": list(seqs.values())})


def _read(connection: psycopg.Connection[Any], statement: str, params: dict[str, Any]) -> list[Erasure]:
    with connection.transaction(), connection.cursor() as cursor:
        cursor.execute(statement, params)
        names = [column.name for column in cursor.description or ()]
        rows = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
    return [Erasure.of_row(row.pop("tenant"), row) for row in rows]


def complete(connection: psycopg.Connection[Any], erasures: Iterable[Erasure], at: datetime) -> None:
    """Record the erasures as complete (a tombstone completed before keeps its first time)."""
    params = [{"device_id": e.device_id, "msg_id": e.msg_id, "at": at} for e in erasures]
    if params:
        with connection.transaction(), connection.cursor() as cursor:
            cursor.executemany(_COMPLETE, params)


# -- confirmation to the devices


def confirmed(acks: Iterable[PendingAck], done: Iterable[Erasure]) -> list[PendingAck]:
    """`acks` with `erased` naming the acked tombstone rows whose erasure is complete."""
    keys = {(e.device_id, e.msg_id) for e in done}
    result = []
    for pending_ack in acks:
        erased = list(dict.fromkeys(m for m in pending_ack.ack.acked if (pending_ack.device_id, m) in keys))
        if erased:
            ack = SyncAck.model_validate(pending_ack.ack.model_dump() | {"erased": erased})
            pending_ack = PendingAck(pending_ack.tenant, pending_ack.device_id, ack)
        result.append(pending_ack)
    return result


def confirmations(done: Iterable[Erasure]) -> list[PendingAck]:
    """Acks of their own (fresh batch ids, nothing acked) confirming erasures completed after their batch's ack."""
    by_device: dict[tuple[str, str], list[str]] = {}
    for erasure in done:
        by_device.setdefault((erasure.tenant, erasure.device_id), []).append(erasure.msg_id)
    return [
        PendingAck(tenant, device_id, SyncAck(batch_id=uuid.uuid4().hex, erased=ids[start : start + MAX_BATCH_ITEMS]))
        for (tenant, device_id), ids in by_device.items()
        for start in range(0, len(ids), MAX_BATCH_ITEMS)
    ]

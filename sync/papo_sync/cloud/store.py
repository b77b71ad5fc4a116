"""Write one ingest Plan to PostgreSQL in one transaction: COPY into staging tables, then idempotent upserts."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.sql.expression import ColumnElement, FromClause

from papo_sync.cloud.decode import Plan
from papo_sync.cloud.schema import (
    columns,
    dead_letter,
    device,
    device_command,
    reported_state,
    sql,
    tombstone,
    turn,
    upsert,
    wellbeing_event,
)


def _not_erased(staged: FromClause) -> ColumnElement[bool]:
    """A turn that arrives after the tombstone erasing it (batches may arrive out of order) stays erased."""
    erased = tombstone.alias("t")
    return ~sa.exists().where(
        erased.c.device_id == staged.c.device_id,
        sa.or_(
            sa.and_(erased.c.scope == "all_history", erased.c.seq > staged.c.seq),
            sa.and_(erased.c.scope == "turns", erased.c.turn_ids.has_key(staged.c.turn_id)),
        ),
    )


@dataclass(frozen=True)
class _Staged:
    """How rows of one table are loaded: COPY into a temporary twin, then INSERT … ON CONFLICT DO NOTHING."""

    columns: tuple[str, ...]
    create: str
    copy: str
    insert: str

    @classmethod
    def of(cls, table: sa.Table, where: Callable[[FromClause], ColumnElement[bool]] | None = None) -> _Staged:
        """The statements for `table` (every column, in declared order); `where` filters the staged rows."""
        names = columns(table)
        stage = f"{table.name}_stage"
        staged = sa.table(stage, *(sa.column(c.name, c.type) for c in table.columns)).alias("s")
        rows = sa.select(*staged.c) if where is None else sa.select(*staged.c).where(where(staged))
        return cls(
            columns=names,
            create=f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table.name} INCLUDING DEFAULTS) "
            "ON COMMIT DELETE ROWS",
            copy=f"COPY {stage} ({', '.join(names)}) FROM STDIN",
            insert=sql(insert(table).from_select(names, rows).on_conflict_do_nothing(), literal=True),
        )

    def load(self, cursor: psycopg.Cursor[Any], rows: list[dict[str, Any]]) -> None:
        """Add `rows` (dicts keyed by column name); rows already there (same key) are left as they are."""
        if not rows:
            return
        cursor.execute(self.create)
        with cursor.copy(self.copy) as copy:
            for row in rows:
                copy.write_row(tuple(row[c] for c in self.columns))
        cursor.execute(self.insert)


_TURNS = _Staged.of(turn, where=_not_erased)
_WELLBEING = _Staged.of(wellbeing_event)
_TOMBSTONES = _Staged.of(tombstone)


_REPORT = upsert(
    reported_state,
    columns(reported_state),
    lambda new: {
        "version": new.version,
        # a refused version keeps the settings the device runs with
        "settings": sa.case((new.accepted, new.settings), else_=reported_state.c.settings),
        "accepted": new.accepted,
        "reason": new.reason,
        "restart_needed": new.restart_needed,
        "reported_at": new.reported_at,
    },
)
_SEEN = upsert(
    device,
    ("device_id", "tenant", "first_seen", "last_seen", "last_sync_at"),
    lambda new: {
        "last_seen": sa.func.greatest(device.c.last_seen, new.last_seen),
        "last_sync_at": sa.func.coalesce(new.last_sync_at, device.c.last_sync_at),
    },
)
# a will (offline) of an older session never overrides the birth of a newer one
_PRESENCE = sql(
    sa.update(device)
    .where(device.c.device_id == sa.bindparam("id"), device.c.session_seq <= sa.bindparam("session_seq"))
    .values(
        presence=sa.bindparam("presence"),
        session_seq=sa.bindparam("session_seq"),
        version=sa.func.coalesce(sa.bindparam("new_version"), device.c.version),
    )
)
_TELEMETRY = sql(
    sa.update(device).where(device.c.device_id == sa.bindparam("id")),
    values=("telemetry", "outbox_depth", "version"),
)
_RESULT = sql(
    sa.update(device_command).where(
        device_command.c.command_id == sa.bindparam("command_id"), device_command.c.device_id == sa.bindparam("id")
    ),
    values=("ok", "detail", "completed_at"),
)
_DEAD = sql(
    sa.insert(dead_letter).values(received_at=sa.func.now()), values=("topic", "device_id", "reason", "payload")
)
_ERASE_BEFORE = sql(
    sa.delete(turn).where(turn.c.device_id == sa.bindparam("device_id"), turn.c.seq < sa.bindparam("seq"))
)
_ERASE_TURNS = sql(
    sa.delete(turn).where(
        turn.c.device_id == sa.bindparam("device_id"), turn.c.turn_id == sa.any_(sa.bindparam("turn_ids"))
    )
)


def connect(database_url: str) -> psycopg.Connection[Any]:
    """A connection for one ingestor (autocommit off: every plan is one transaction)."""
    return psycopg.connect(database_url, connect_timeout=5)


def write(connection: psycopg.Connection[Any], plan: Plan) -> None:
    """Commit everything in `plan` at once (or nothing, raising)."""
    with connection.transaction(), connection.cursor() as cursor:
        if plan.tombstones:
            _TOMBSTONES.load(cursor, plan.tombstones)
            _apply_tombstones(cursor, plan)
        _TURNS.load(cursor, plan.turns)
        _WELLBEING.load(cursor, plan.wellbeing)
        _devices(cursor, plan)
        for device_id, reported, at in plan.reported:
            cursor.execute(
                _REPORT,
                {
                    "device_id": device_id, "version": reported.version, "settings": json.dumps(reported.settings),
                    "accepted": reported.accepted, "reason": reported.reason,
                    "restart_needed": json.dumps(reported.restart_needed), "reported_at": at,
                },
            )  # fmt: skip
        for device_id, result, at in plan.results:
            cursor.execute(
                _RESULT,
                {"ok": result.ok, "detail": result.detail, "completed_at": at, "command_id": result.command_id,
                 "id": device_id},
            )  # fmt: skip
        if plan.dead:
            cursor.executemany(
                _DEAD,
                [
                    {"topic": d.topic, "device_id": d.device_id, "reason": d.reason,
                     "payload": d.payload.replace("\x00", "")}
                    for d in plan.dead
                ],
            )  # fmt: skip


def _apply_tombstones(cursor: psycopg.Cursor[Any], plan: Plan) -> None:
    for erase in plan.tombstones:
        if erase["scope"] == "all_history":
            cursor.execute(_ERASE_BEFORE, {"device_id": erase["device_id"], "seq": erase["seq"]})
        else:
            cursor.execute(_ERASE_TURNS, {"device_id": erase["device_id"], "turn_ids": json.loads(erase["turn_ids"])})


def _devices(cursor: psycopg.Cursor[Any], plan: Plan) -> None:
    synced = {ack.device_id for ack in plan.acks if ack.ack.acked}
    for device_id, (tenant, at) in plan.seen.items():
        cursor.execute(
            _SEEN,
            {"device_id": device_id, "tenant": tenant, "first_seen": at, "last_seen": at,
             "last_sync_at": at if device_id in synced else None},
        )  # fmt: skip
    for _, device_id, presence, _ in plan.presence:
        cursor.execute(
            _PRESENCE,
            {"presence": presence.state, "session_seq": presence.session_seq, "new_version": presence.version,
             "id": device_id},
        )  # fmt: skip
    for _, device_id, telemetry, _ in plan.telemetry:
        cursor.execute(
            _TELEMETRY,
            {"telemetry": telemetry.model_dump_json(), "outbox_depth": telemetry.outbox_depth,
             "version": telemetry.version, "id": device_id},
        )  # fmt: skip

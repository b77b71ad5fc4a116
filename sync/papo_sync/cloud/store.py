"""Write one ingest Plan to PostgreSQL in one transaction: COPY into staging tables, then idempotent upserts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from papo_sync.cloud import erasure
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
    wellbeing_ok,
)


@dataclass(frozen=True)
class _Staged:
    """How rows of one table are loaded: COPY into a temporary twin, then INSERT … ON CONFLICT DO NOTHING.

    Rows a tombstone erases are kept out (and counted on it) for the tables of device items.
    """

    columns: tuple[str, ...]
    create: str
    copy: str
    count_late: str | None
    insert: str

    @classmethod
    def of(cls, table: sa.Table, erasable: bool = False) -> _Staged:
        """The statements for `table` (every column, in declared order); the INSERT returns the keys it added."""
        names = columns(table)
        stage = f"{table.name}_stage"
        staged = sa.table(stage, *(sa.column(c.name, c.type) for c in table.columns)).alias("s")
        rows = sa.select(*staged.c).where(erasure.not_erased(staged)) if erasable else sa.select(*staged.c)
        added = insert(table).from_select(names, rows).on_conflict_do_nothing()
        return cls(
            columns=names,
            create=f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table.name} INCLUDING DEFAULTS) "
            "ON COMMIT DELETE ROWS",
            copy=f"COPY {stage} ({', '.join(names)}) FROM STDIN",
            count_late=sql(erasure.count_late(staged), literal=True) if erasable else None,
            insert=sql(added.returning(*table.primary_key.columns), literal=True),
        )

    def load(self, cursor: psycopg.Cursor[Any], rows: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
        """Add `rows` (dicts keyed by column name); rows already there (same key) are left as they are.

        Returns the primary keys of the rows added (not those already there, erased or twice in `rows`).
        """
        if not rows:
            return set()
        cursor.execute(self.create)
        with cursor.copy(self.copy) as copy:
            for row in rows:
                copy.write_row(tuple(row[c] for c in self.columns))
        if self.count_late is not None:
            cursor.execute(self.count_late)
        cursor.execute(self.insert)
        return {tuple(key) for key in cursor.fetchall()}


_TURNS = _Staged.of(turn, erasable=True)
_WELLBEING = _Staged.of(wellbeing_event, erasable=True)
_TOMBSTONES = _Staged.of(tombstone)
_WELLBEING_OK = _Staged.of(wellbeing_ok)  # no words in it: nothing for a tombstone to erase


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


def connect(database_url: str) -> psycopg.Connection[Any]:
    """A connection for one ingestor (autocommit off: every plan is one transaction)."""
    return psycopg.connect(database_url, connect_timeout=5)


@dataclass(frozen=True)
class Written:
    """What a committed plan added: the keys (device_id, msg_id) of the turns stored for the first time."""

    turns: frozenset[tuple[str, str]]


def write(connection: psycopg.Connection[Any], plan: Plan) -> Written:
    """Commit everything in `plan` at once (or nothing, raising)."""
    with connection.transaction(), connection.cursor() as cursor:
        erasure.serialize(cursor, plan)
        if plan.dead:  # first: a tombstone in the same round erases its device's dead letters too
            cursor.executemany(
                _DEAD,
                [
                    {"topic": d.topic, "device_id": d.device_id, "reason": d.reason,
                     "payload": d.payload.replace("\x00", "")}
                    for d in plan.dead
                ],
            )  # fmt: skip
        if plan.tombstones:
            _TOMBSTONES.load(cursor, plan.tombstones)
            erasure.apply(cursor, plan.tombstones)
        turns = _TURNS.load(cursor, plan.turns)
        _WELLBEING.load(cursor, plan.wellbeing)
        _WELLBEING_OK.load(cursor, plan.wellbeing_ok)
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
    return Written(turns=frozenset((str(d), str(m)) for d, m in turns))


def _devices(cursor: psycopg.Cursor[Any], plan: Plan) -> None:
    items = (*plan.turns, *plan.wellbeing, *plan.wellbeing_ok, *plan.tombstones)
    synced = {row["device_id"] for row in items}  # items stored: acked
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

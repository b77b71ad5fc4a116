"""Write one ingest Plan to PostgreSQL in one transaction: COPY into staging tables, then idempotent upserts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import psycopg

from papo_sync.cloud.decode import Plan

TURN_COLUMNS = (
    "device_id", "msg_id", "seq", "conversation_id", "turn_id", "role", "text", "language", "started_at",
    "audio_duration_s", "timings", "stt_model", "llm_model", "reply_to", "interrupted", "received_at",
)  # fmt: skip
WELLBEING_COLUMNS = (
    "device_id", "msg_id", "seq", "kind", "severity", "evidence", "source", "turn_id", "created_at", "received_at",
)  # fmt: skip
TOMBSTONE_COLUMNS = ("device_id", "msg_id", "seq", "scope", "turn_ids", "requested_at", "applied_at")
# a turn that arrives after the tombstone erasing it (batches may arrive out of order) stays erased
_NOT_ERASED = (
    "WHERE NOT EXISTS (SELECT 1 FROM tombstone t WHERE t.device_id = s.device_id AND "
    "((t.scope = 'all_history' AND t.seq > s.seq) OR (t.scope = 'turns' AND t.turn_ids ? s.turn_id)))"
)


def connect(database_url: str) -> psycopg.Connection[Any]:
    """A connection for one ingestor (autocommit off: every plan is one transaction)."""
    return psycopg.connect(database_url, connect_timeout=5)


def _copy_upsert(
    cursor: psycopg.Cursor[Any], table: str, columns: Sequence[str], rows: list[dict[str, Any]], where: str = ""
) -> None:
    if not rows:
        return
    stage = f"{table}_stage"
    names = ", ".join(columns)
    cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
    with cursor.copy(f"COPY {stage} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(tuple(row[c] for c in columns))
    cursor.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage} s {where} ON CONFLICT DO NOTHING")


def write(connection: psycopg.Connection[Any], plan: Plan) -> None:
    """Commit everything in `plan` at once (or nothing, raising)."""
    with connection.transaction(), connection.cursor() as cursor:
        if plan.tombstones:
            _copy_upsert(cursor, "tombstone", TOMBSTONE_COLUMNS, plan.tombstones)
            _apply_tombstones(cursor, plan)
        _copy_upsert(cursor, "turn", TURN_COLUMNS, plan.turns, where=_NOT_ERASED)
        _copy_upsert(cursor, "wellbeing_event", WELLBEING_COLUMNS, plan.wellbeing)
        _devices(cursor, plan)
        for device_id, reported, at in plan.reported:
            cursor.execute(
                "INSERT INTO reported_state (device_id, version, settings, accepted, reason, restart_needed, "
                "reported_at) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (device_id) DO UPDATE SET "
                "version = EXCLUDED.version, "
                "settings = CASE WHEN EXCLUDED.accepted THEN EXCLUDED.settings ELSE reported_state.settings END, "
                "accepted = EXCLUDED.accepted, reason = EXCLUDED.reason, restart_needed = EXCLUDED.restart_needed, "
                "reported_at = EXCLUDED.reported_at",
                (
                    device_id,
                    reported.version,
                    json.dumps(reported.settings),
                    reported.accepted,
                    reported.reason,
                    json.dumps(reported.restart_needed),
                    at,
                ),
            )
        for device_id, result, at in plan.results:
            cursor.execute(
                "UPDATE device_command SET ok = %s, detail = %s, completed_at = %s "
                "WHERE command_id = %s AND device_id = %s",
                (result.ok, result.detail, at, result.command_id, device_id),
            )
        if plan.dead:
            cursor.executemany(
                "INSERT INTO dead_letter (received_at, topic, device_id, reason, payload) "
                "VALUES (now(), %s, %s, %s, %s)",
                [(d.topic, d.device_id, d.reason, d.payload.replace("\x00", "")) for d in plan.dead],
            )


def _apply_tombstones(cursor: psycopg.Cursor[Any], plan: Plan) -> None:
    for tombstone in plan.tombstones:
        if tombstone["scope"] == "all_history":
            cursor.execute(
                "DELETE FROM turn WHERE device_id = %s AND seq < %s", (tombstone["device_id"], tombstone["seq"])
            )
        else:
            cursor.execute(
                "DELETE FROM turn WHERE device_id = %s AND turn_id = ANY(%s)",
                (tombstone["device_id"], json.loads(tombstone["turn_ids"])),
            )


def _devices(cursor: psycopg.Cursor[Any], plan: Plan) -> None:
    synced = {ack.device_id for ack in plan.acks if ack.ack.acked}
    for device_id, (tenant, at) in plan.seen.items():
        cursor.execute(
            "INSERT INTO device (device_id, tenant, first_seen, last_seen, last_sync_at) VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT (device_id) DO UPDATE SET last_seen = GREATEST(device.last_seen, EXCLUDED.last_seen), "
            "last_sync_at = COALESCE(EXCLUDED.last_sync_at, device.last_sync_at)",
            (device_id, tenant, at, at, at if device_id in synced else None),
        )
    for _, device_id, presence, _ in plan.presence:
        # a will (offline) of an older session never overrides the birth of a newer one
        cursor.execute(
            "UPDATE device SET presence = %s, session_seq = %s, version = COALESCE(%s, version) "
            "WHERE device_id = %s AND (session_seq < %s OR (session_seq = %s))",
            (presence.state, presence.session_seq, presence.version, device_id, presence.session_seq,
             presence.session_seq),
        )  # fmt: skip
    for _, device_id, telemetry, _ in plan.telemetry:
        cursor.execute(
            "UPDATE device SET telemetry = %s, outbox_depth = %s, version = %s WHERE device_id = %s",
            (telemetry.model_dump_json(), telemetry.outbox_depth, telemetry.version, device_id),
        )

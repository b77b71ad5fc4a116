"""The cloud database (PostgreSQL): its one statement of the tables (SQLAlchemy Core), migrated by Alembic.

The queries are built from these Table objects (`sql`) and the COPY column lists derived from them
(`columns`); the migrations are frozen history, and a services test checks that they end where this metadata is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.dialects.postgresql.psycopg2 import PGDialect_psycopg2
from sqlalchemy.sql.base import ReadOnlyColumnCollection
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement, KeyedColumnElement

metadata = MetaData()

device = Table(
    "device", metadata,
    Column("device_id", String(64), primary_key=True),
    Column("tenant", String(64), nullable=False),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    Column("presence", String(16), nullable=False, server_default="unknown"),
    Column("session_seq", BigInteger, nullable=False, server_default="0"),
    Column("version", String(32)),
    Column("outbox_depth", Integer),
    Column("telemetry", JSONB),
    Column("last_sync_at", DateTime(timezone=True)),
)  # fmt: skip

turn = Table(
    "turn", metadata,
    Column("device_id", String(64), nullable=False),
    Column("msg_id", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("conversation_id", String(64), nullable=False),
    Column("turn_id", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("text", Text, nullable=False),
    Column("language", String(8), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("audio_duration_s", Float, nullable=False),
    Column("timings", JSONB, nullable=False),
    Column("stt_model", String(64)),
    Column("llm_model", String(64)),
    Column("reply_to", String(64)),
    Column("interrupted", Boolean, nullable=False, server_default="false"),
    Column("received_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("device_id", "msg_id"),
    Index("ix_turn_device_seq", "device_id", "seq"),
)  # fmt: skip

wellbeing_event = Table(
    "wellbeing_event", metadata,
    Column("device_id", String(64), nullable=False),
    Column("msg_id", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("evidence", Text, nullable=False),
    Column("source", String(16), nullable=False),
    Column("turn_id", String(64)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("device_id", "msg_id"),
    Index("ix_wellbeing_event_device_created", "device_id", "created_at"),
)  # fmt: skip

# "estou bem" said while a wellbeing item's alert was open (migration 0006): kept for the caregivers; no words
wellbeing_ok = Table(
    "wellbeing_ok", metadata,
    Column("device_id", String(64), nullable=False),
    Column("msg_id", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("event_msg_id", String(64), nullable=False),  # the wellbeing item (and so the alert) it answers
    Column("said_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("device_id", "msg_id"),
    Index("ix_wellbeing_ok_event", "device_id", "event_msg_id"),
)  # fmt: skip

tombstone = Table(
    "tombstone", metadata,
    Column("device_id", String(64), nullable=False),
    Column("msg_id", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("scope", String(16), nullable=False),
    Column("turn_ids", JSONB, nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False),
    Column("completed_at", DateTime(timezone=True)),  # PostgreSQL and Redis both clean; confirmed to the device
    Column("late_dropped", Integer, nullable=False, server_default="0"),  # items that arrived after it, not kept
    PrimaryKeyConstraint("device_id", "msg_id"),
    Index("ix_tombstone_pending", "applied_at", postgresql_where=text("completed_at IS NULL")),
)  # fmt: skip

dead_letter = Table(
    "dead_letter", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("topic", Text, nullable=False),
    Column("device_id", String(64)),
    Column("reason", Text, nullable=False),
    Column("payload", Text, nullable=False),
)  # fmt: skip

desired_state = Table(
    "desired_state", metadata,
    Column("device_id", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("settings", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)  # fmt: skip

reported_state = Table(
    "reported_state", metadata,
    Column("device_id", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("settings", JSONB, nullable=False),
    Column("accepted", Boolean, nullable=False),
    Column("reason", Text),
    Column("restart_needed", JSONB, nullable=False, server_default="[]"),
    Column("reported_at", DateTime(timezone=True), nullable=False),
)  # fmt: skip

device_command = Table(
    "device_command", metadata,
    Column("command_id", String(64), primary_key=True),
    Column("device_id", String(64), nullable=False),
    Column("name", String(32), nullable=False),
    Column("args", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("ok", Boolean),
    Column("detail", Text),
    Column("completed_at", DateTime(timezone=True)),
    Index("ix_device_command_device", "device_id", "created_at"),
)  # fmt: skip

enrolment = Table(
    "enrolment", metadata,
    Column("device_id", String(64), primary_key=True),
    Column("tenant", String(64), nullable=False),  # the only tenant the device's messages are accepted under
    Column("enrolled_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),  # set by `devices remove`; enrolling again clears it
)  # fmt: skip

# caregiver alerts (migration 0005, docs/decisions/0016): who to warn per tenant, each alert, each delivery, and
# the signed updates owed to the device. An alert keeps no words: the matched phrase stays in wellbeing_event.
alert_policy = Table(
    "alert_policy", metadata,
    Column("tenant", String(64), primary_key=True),
    Column("threshold", String(16), nullable=False, server_default="high"),
    Column("escalate_after_min", Integer, nullable=False, server_default="5"),
    Column("timezone", String(64), nullable=False, server_default="America/Sao_Paulo"),
)  # fmt: skip

caregiver = Table(
    "caregiver", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("tenant", String(64), nullable=False),
    Column("name", String(80), nullable=False),
    Column("channel", String(16), nullable=False),  # email | webhook | ntfy
    Column("target", Text, nullable=False),  # the address or URL
    Column("secret", Text),  # the webhook's HMAC secret, or ntfy's access token
    Column("position", Integer, nullable=False, server_default="1"),  # who is warned first (lowest), then next
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_caregiver_tenant", "tenant", "position"),
)  # fmt: skip

alert = Table(
    "alert", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("tenant", String(64), nullable=False),
    Column("device_id", String(64), nullable=False),
    Column("msg_id", String(64), nullable=False),  # the wellbeing item it answers
    Column("kind", String(32), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("state", String(16), nullable=False),  # protocol.AlertState
    Column("step", Integer, nullable=False, server_default="0"),  # escalation step reached
    Column("step_at", DateTime(timezone=True), nullable=False),  # when that step began
    Column("event_at", DateTime(timezone=True), nullable=False),  # when the device heard it
    Column("received_at", DateTime(timezone=True), nullable=False),  # when the cloud committed the event
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True)),
    Column("acknowledged_at", DateTime(timezone=True)),
    Column("acknowledged_by", String(80)),
    Column("ack_via", String(16)),  # link | cli | webhook
    Column("fine_at", DateTime(timezone=True)),  # when the person first said «estou bem» (wellbeing_ok)
    Column("update_seq", Integer, nullable=False, server_default="0"),
    UniqueConstraint("device_id", "msg_id", name="uq_alert_event"),
    Index("ix_alert_open", "step_at", postgresql_where=text("acknowledged_at IS NULL")),
)  # fmt: skip

alert_delivery = Table(
    "alert_delivery", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("alert_id", BigInteger, ForeignKey("alert.id", ondelete="CASCADE"), nullable=False),
    Column("caregiver_id", BigInteger),  # no foreign key: removing a caregiver keeps the record of what was sent
    Column("caregiver_name", String(80), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("step", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # pending | sending | succeeded | failed | cancelled
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("history", JSONB, nullable=False, server_default="[]"),  # each attempt: at, outcome, detail
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("lease_until", DateTime(timezone=True)),  # a sender's claim; past it, another instance takes over
    Column("ack_token_sha256", String(64)),  # of the ack link's token in the last message sent
    Column("idempotency_key", String(80), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("completed_at", DateTime(timezone=True)),
    Column("kind", String(8), nullable=False, server_default="alert"),  # alert (the warning) | ok («estou bem»)
    UniqueConstraint("alert_id", "caregiver_id", "kind", name="uq_alert_delivery_caregiver"),
    UniqueConstraint("ack_token_sha256", name="uq_alert_delivery_token"),
    Index("ix_alert_delivery_due", "next_attempt_at", postgresql_where=text("status IN ('pending', 'sending')")),
)  # fmt: skip

alert_update = Table(
    "alert_update", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("alert_id", BigInteger, ForeignKey("alert.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("caregiver", String(80)),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("published_at", DateTime(timezone=True)),
    Index("ix_alert_update_unpublished", "id", postgresql_where=text("published_at IS NULL")),
)  # fmt: skip

_MIGRATIONS = Path(__file__).parent / "migrations"
# psycopg takes the %(name)s placeholders this dialect renders, and no casts are added to the parameters
_DIALECT = PGDialect_psycopg2()  # type: ignore[no-untyped-call]


def columns(table: Table) -> tuple[str, ...]:
    """The names of `table`'s columns in their declared order (the order rows are COPYed in)."""
    return tuple(column.name for column in table.columns)


def sql(statement: ClauseElement, values: Sequence[str] = (), literal: bool = False) -> str:
    """`statement` as PostgreSQL text for psycopg; `values`: the columns an INSERT/UPDATE takes as parameters.

    Parameters are `%(name)s` (a bindparam's name, or a column's for `values`); `literal` renders constants
    inline, for statements that take no parameters at all. No RETURNING is added to INSERTs.
    """
    compiled = statement.compile(
        dialect=_DIALECT,
        column_keys=list(values) or None,
        for_executemany=True,
        compile_kwargs={"literal_binds": literal},
    )
    assert isinstance(compiled, SQLCompiler)
    constants = sorted({bind.key for bind in compiled.binds.values() if not bind.required})
    if constants:
        raise ValueError(f"constants {constants} would be parameters: pass literal=True or use bindparam()")
    return str(compiled)


def upsert(
    table: Table,
    values: Sequence[str],
    changes: Callable[[ReadOnlyColumnCollection[str, KeyedColumnElement[Any]]], dict[str, Any]],
    **fixed: Any,
) -> str:
    """INSERT `values` (and `fixed` SQL expressions) into `table`; on a primary-key conflict SET `changes(excluded)`."""
    statement = insert(table).values(**fixed) if fixed else insert(table)
    return sql(
        statement.on_conflict_do_update(index_elements=list(table.primary_key), set_=changes(statement.excluded)),
        values,
    )


def migrate(database_url: str) -> None:
    """Bring the cloud database's schema up to date (Alembic, on the given database)."""
    # only migrating needs Alembic: the ingestors and the fleet, which import this module, never load it
    from alembic import command
    from alembic.config import Config

    engine = create_engine(_sqlalchemy_url(database_url))
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    engine.dispose()


def _sqlalchemy_url(database_url: str) -> str:
    """postgresql://… → postgresql+psycopg://… (psycopg 3)."""
    if database_url.startswith("postgresql://"):
        return "postgresql+psycopg://" + database_url.removeprefix("postgresql://")
    return database_url

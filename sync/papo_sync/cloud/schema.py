"""The cloud database (PostgreSQL): tables as SQLAlchemy Core metadata, migrated by Alembic."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    create_engine,
)
from sqlalchemy.dialects.postgresql import JSONB

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
    PrimaryKeyConstraint("device_id", "msg_id"),
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
)  # fmt: skip

_MIGRATIONS = Path(__file__).parent / "migrations"


def migrate(database_url: str) -> None:
    """Bring the cloud database's schema up to date (Alembic, on the given database)."""
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

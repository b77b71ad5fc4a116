"""Devices, synced turns, wellbeing events, tombstones, dead letters, desired/reported state, commands.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "device",
        sa.Column("device_id", sa.String(64), primary_key=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("presence", sa.String(16), nullable=False, server_default="unknown"),
        sa.Column("session_seq", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("version", sa.String(32)),
        sa.Column("outbox_depth", sa.Integer),
        sa.Column("telemetry", JSONB),
        sa.Column("last_sync_at", sa.DateTime(timezone=True)),
    )  # fmt: skip
    op.create_table(
        "turn",
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("msg_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("conversation_id", sa.String(64), nullable=False),
        sa.Column("turn_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("audio_duration_s", sa.Float, nullable=False),
        sa.Column("timings", JSONB, nullable=False),
        sa.Column("stt_model", sa.String(64)),
        sa.Column("llm_model", sa.String(64)),
        sa.Column("reply_to", sa.String(64)),
        sa.Column("interrupted", sa.Boolean, nullable=False, server_default="false"),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("device_id", "msg_id"),
    )  # fmt: skip
    op.create_table(
        "wellbeing_event",
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("msg_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("turn_id", sa.String(64)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("device_id", "msg_id"),
    )  # fmt: skip
    op.create_table(
        "tombstone",
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("msg_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("turn_ids", JSONB, nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("device_id", "msg_id"),
    )  # fmt: skip
    op.create_table(
        "dead_letter",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("device_id", sa.String(64)),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
    )  # fmt: skip
    op.create_table(
        "desired_state",
        sa.Column("device_id", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("settings", JSONB, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )  # fmt: skip
    op.create_table(
        "reported_state",
        sa.Column("device_id", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("settings", JSONB, nullable=False),
        sa.Column("accepted", sa.Boolean, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
    )  # fmt: skip
    op.create_table(
        "device_command",
        sa.Column("command_id", sa.String(64), primary_key=True),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("args", JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.Boolean),
        sa.Column("detail", sa.Text),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
    )  # fmt: skip
    op.create_index("ix_turn_device_seq", "turn", ["device_id", "seq"])
    op.create_index("ix_wellbeing_event_device_created", "wellbeing_event", ["device_id", "created_at"])
    op.create_index("ix_device_command_device", "device_command", ["device_id", "created_at"])


def downgrade() -> None:
    """Undo this revision."""
    for table in (
        "device_command",
        "reported_state",
        "desired_state",
        "dead_letter",
        "tombstone",
        "wellbeing_event",
        "turn",
        "device",
    ):
        op.drop_table(table)

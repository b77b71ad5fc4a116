"""Caregiver alerts: caregivers and the alert policy per tenant, alerts, their deliveries and device updates.

A statement trigger on wellbeing_event NOTIFYs `papo_wellbeing` when the ingestor commits events, so the alert
service (LISTEN) reacts at once; its periodic sweep is the fallback.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_NOTIFY = """
CREATE FUNCTION papo_wellbeing_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('papo_wellbeing', '');
    RETURN NULL;
END $$;
CREATE TRIGGER wellbeing_event_notify AFTER INSERT ON wellbeing_event
    FOR EACH STATEMENT EXECUTE FUNCTION papo_wellbeing_notify();
"""


def _when(name: str, nullable: bool = True) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "alert_policy",
        sa.Column("tenant", sa.String(64), primary_key=True),
        sa.Column("threshold", sa.String(16), nullable=False, server_default="high"),
        sa.Column("escalate_after_min", sa.Integer(), nullable=False, server_default="5"),
        sa.Column("timezone", sa.String(64), nullable=False, server_default="America/Sao_Paulo"),
    )
    op.create_table(
        "caregiver",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text()),
        sa.Column("position", sa.Integer(), nullable=False, server_default="1"),
        _when("created_at", nullable=False),
    )
    op.create_index("ix_caregiver_tenant", "caregiver", ["tenant", "position"])
    op.create_table(
        "alert",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("msg_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False, server_default="0"),
        _when("step_at", nullable=False),
        _when("event_at", nullable=False),
        _when("received_at", nullable=False),
        _when("created_at", nullable=False),
        _when("delivered_at"),
        _when("acknowledged_at"),
        sa.Column("acknowledged_by", sa.String(80)),
        sa.Column("ack_via", sa.String(16)),
        sa.Column("update_seq", sa.Integer(), nullable=False, server_default="0"),
        sa.UniqueConstraint("device_id", "msg_id", name="uq_alert_event"),
    )
    op.create_index("ix_alert_open", "alert", ["step_at"], postgresql_where=sa.text("acknowledged_at IS NULL"))
    op.create_table(
        "alert_delivery",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.BigInteger(), sa.ForeignKey("alert.id", ondelete="CASCADE"), nullable=False),
        sa.Column("caregiver_id", sa.BigInteger()),
        sa.Column("caregiver_name", sa.String(80), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("history", JSONB(), nullable=False, server_default="[]"),
        _when("next_attempt_at", nullable=False),
        _when("lease_until"),
        sa.Column("ack_token_sha256", sa.String(64)),
        sa.Column("idempotency_key", sa.String(80), nullable=False),
        _when("created_at", nullable=False),
        _when("completed_at"),
        sa.UniqueConstraint("alert_id", "caregiver_id", name="uq_alert_delivery_caregiver"),
        sa.UniqueConstraint("ack_token_sha256", name="uq_alert_delivery_token"),
    )
    op.create_index(
        "ix_alert_delivery_due", "alert_delivery", ["next_attempt_at"],
        postgresql_where=sa.text("status IN ('pending', 'sending')"),
    )  # fmt: skip
    op.create_table(
        "alert_update",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.BigInteger(), sa.ForeignKey("alert.id", ondelete="CASCADE"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("caregiver", sa.String(80)),
        _when("at", nullable=False),
        _when("published_at"),
    )
    op.create_index(
        "ix_alert_update_unpublished", "alert_update", ["id"], postgresql_where=sa.text("published_at IS NULL")
    )
    op.execute(_NOTIFY)


def downgrade() -> None:
    """Undo this revision."""
    op.execute("DROP TRIGGER IF EXISTS wellbeing_event_notify ON wellbeing_event")
    op.execute("DROP FUNCTION IF EXISTS papo_wellbeing_notify()")
    for table in ("alert_update", "alert_delivery", "alert", "caregiver", "alert_policy"):
        op.drop_table(table)

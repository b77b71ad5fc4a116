"""Wellbeing updates: "estou bem" said on the device while the alert of one of its wellbeing items was open.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "wellbeing_ok",
        sa.Column("device_id", sa.String(64), nullable=False),
        sa.Column("msg_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("event_msg_id", sa.String(64), nullable=False),
        sa.Column("said_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("device_id", "msg_id"),
    )
    op.create_index("ix_wellbeing_ok_event", "wellbeing_ok", ["device_id", "event_msg_id"])


def downgrade() -> None:
    """Undo this revision."""
    op.drop_index("ix_wellbeing_ok_event", "wellbeing_ok")
    op.drop_table("wellbeing_ok")

"""Tombstones record when their erasure completed (PostgreSQL and Redis) and how many late items they dropped;
the unfinished ones are indexed.

Tombstones applied before this revision have no completion time: the ingestor finishes them (cleans the
Redis live view) and confirms them to their devices.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("tombstone", sa.Column("completed_at", sa.DateTime(timezone=True)))
    op.add_column("tombstone", sa.Column("late_dropped", sa.Integer(), nullable=False, server_default="0"))
    op.create_index(
        "ix_tombstone_pending", "tombstone", ["applied_at"], postgresql_where=sa.text("completed_at IS NULL")
    )


def downgrade() -> None:
    """Undo this revision."""
    op.drop_index("ix_tombstone_pending", "tombstone")
    op.drop_column("tombstone", "late_dropped")
    op.drop_column("tombstone", "completed_at")

"""Wellbeing events: drop notified_at (never written; the outbox row is what queues an event).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("wellbeingevent") as batch:
        batch.drop_column("notified_at")


def downgrade() -> None:
    with op.batch_alter_table("wellbeingevent") as batch:
        batch.add_column(sa.Column("notified_at", sa.DateTime(), nullable=True))

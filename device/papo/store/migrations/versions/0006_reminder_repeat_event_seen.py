"""Reminders repeat (none, daily, weekly); wellbeing events can be marked seen (when, by whom).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reminder") as batch:
        batch.add_column(sa.Column("repeat", sa.String(length=16), nullable=False, server_default="none"))
    with op.batch_alter_table("wellbeingevent") as batch:
        batch.add_column(sa.Column("seen_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("seen_by", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("wellbeingevent") as batch:
        batch.drop_column("seen_by")
        batch.drop_column("seen_at")
    with op.batch_alter_table("reminder") as batch:
        batch.drop_column("repeat")

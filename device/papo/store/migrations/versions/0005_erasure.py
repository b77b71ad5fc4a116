"""Erasure requests: what was erased, when it was wiped from the files and when the cloud confirmed it.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "erasure",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("scrubbed_at", sa.DateTime(), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_erasure_scrubbed_at", "erasure", ["scrubbed_at"])


def downgrade() -> None:
    op.drop_index("ix_erasure_scrubbed_at", "erasure")
    op.drop_table("erasure")

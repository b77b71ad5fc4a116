"""Companion replies, memories, reminders and wellbeing events.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("turn") as turn:
        turn.add_column(sa.Column("reply_to", sa.String(length=32), nullable=True))
        turn.add_column(sa.Column("eos_to_first_token_ms", sa.Float(), nullable=True))
        turn.add_column(sa.Column("eos_to_first_audio_ms", sa.Float(), nullable=True))
        turn.add_column(sa.Column("llm_model", sa.String(length=64), nullable=True))
        turn.add_column(sa.Column("tts_voice", sa.String(length=64), nullable=True))
        turn.add_column(sa.Column("interrupted", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "memory",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("turn_id", sa.String(length=32), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_memory_turn_id", "memory", ["turn_id"])
    op.create_table(
        "reminder",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("turn_id", sa.String(length=32), nullable=True),
        sa.Column("what", sa.String(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("spoken_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_reminder_due_at", "reminder", ["due_at"])
    op.create_table(
        "wellbeingevent",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("turn_id", sa.String(length=32), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("evidence", sa.String(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("notified_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_wellbeingevent_turn_id", "wellbeingevent", ["turn_id"])


def downgrade() -> None:
    op.drop_table("wellbeingevent")
    op.drop_table("reminder")
    op.drop_table("memory")
    with op.batch_alter_table("turn") as turn:
        for column in (
            "interrupted",
            "tts_voice",
            "llm_model",
            "eos_to_first_audio_ms",
            "eos_to_first_token_ms",
            "reply_to",
        ):
            turn.drop_column(column)

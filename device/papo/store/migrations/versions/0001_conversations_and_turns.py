"""Conversations and turns.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversation",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("last_turn_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_conversation_last_turn_at", "conversation", ["last_turn_at"])
    op.create_table(
        "turn",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("conversation_id", sa.String(length=32), sa.ForeignKey("conversation.id"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False, unique=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("text", sa.String(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("audio_start_s", sa.Float(), nullable=False),
        sa.Column("audio_end_s", sa.Float(), nullable=False),
        sa.Column("audio_duration_s", sa.Float(), nullable=False),
        sa.Column("vad_ms", sa.Float(), nullable=True),
        sa.Column("stt_ms", sa.Float(), nullable=True),
        sa.Column("eos_to_text_ms", sa.Float(), nullable=True),
        sa.Column("stt_model", sa.String(length=64), nullable=False),
        sa.Column("stt_window", sa.String(length=8), nullable=False),
        sa.Column("vad_model", sa.String(length=64), nullable=False),
    )
    op.create_index("ix_turn_conversation_id", "turn", ["conversation_id"])


def downgrade() -> None:
    op.drop_index("ix_turn_conversation_id", "turn")
    op.drop_table("turn")
    op.drop_index("ix_conversation_last_turn_at", "conversation")
    op.drop_table("conversation")

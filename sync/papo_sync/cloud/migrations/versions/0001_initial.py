"""Devices, synced turns, wellbeing events, tombstones, dead letters, desired/reported state, commands.

Revision ID: 0001
Revises:
"""

from alembic import op

from papo_sync.cloud.schema import metadata

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    metadata.create_all(bind)
    op.create_index("ix_turn_device_seq", "turn", ["device_id", "seq"])
    op.create_index("ix_wellbeing_event_device_created", "wellbeing_event", ["device_id", "created_at"])
    op.create_index("ix_device_command_device", "device_command", ["device_id", "created_at"])


def downgrade() -> None:
    metadata.drop_all(op.get_bind())

"""«estou bem» to the caregivers: ok updates are deliveries of their own kind, and the alert remembers the words came.

`alert.fine_at`: when the person first said they were fine (stops the escalation once somebody was reached);
`alert_delivery.kind`: `alert` (the warning) or `ok` (the update), one of each per alert and caregiver; a statement
trigger on `wellbeing_ok` NOTIFYs `papo_wellbeing`, like the one on `wellbeing_event`, so the service reacts at once.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("alert", sa.Column("fine_at", sa.DateTime(timezone=True)))
    op.add_column("alert_delivery", sa.Column("kind", sa.String(8), nullable=False, server_default="alert"))
    op.drop_constraint("uq_alert_delivery_caregiver", "alert_delivery", type_="unique")
    op.create_unique_constraint("uq_alert_delivery_caregiver", "alert_delivery", ["alert_id", "caregiver_id", "kind"])
    op.execute(
        "CREATE TRIGGER wellbeing_ok_notify AFTER INSERT ON wellbeing_ok "
        "FOR EACH STATEMENT EXECUTE FUNCTION papo_wellbeing_notify()"
    )


def downgrade() -> None:
    """Undo this revision."""
    op.execute("DROP TRIGGER IF EXISTS wellbeing_ok_notify ON wellbeing_ok")
    op.execute("DELETE FROM alert_delivery WHERE kind <> 'alert'")
    op.drop_constraint("uq_alert_delivery_caregiver", "alert_delivery", type_="unique")
    op.create_unique_constraint("uq_alert_delivery_caregiver", "alert_delivery", ["alert_id", "caregiver_id"])
    op.drop_column("alert_delivery", "kind")
    op.drop_column("alert", "fine_at")

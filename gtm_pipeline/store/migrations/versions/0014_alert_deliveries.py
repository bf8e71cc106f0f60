"""Alert deliveries: each escalation posted once per channel (and its "resolved" follow-up once).

One row per (escalation, channel, message) is the "once": a pass claims a row with one conditional
UPDATE before posting, so two passes at once (a sensor tick beside ``gtm alerts send``) post it
once; a failure stays on the row (attempts, last error, when to try again), never silently.

Revision ID: 0014
Revises: 0011
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("escalation_id", sa.Integer, sa.ForeignKey("escalations.id"), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("message", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("claimed_by", sa.String(80)),
        sa.Column("claimed_at", sa.DateTime(timezone=True)),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.String(300)),
        sa.UniqueConstraint("escalation_id", "channel", "message", name="uq_alert_delivery"),
    )


def downgrade() -> None:
    op.drop_table("alert_deliveries")

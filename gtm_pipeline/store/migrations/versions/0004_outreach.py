"""Outreach: the send ledger (outbox), the inbox of provider events, the recipient's timezone.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("prospects", sa.Column("contact_timezone", sa.String(64)))
    op.create_table(
        "outbox",
        sa.Column("touch_id", sa.String(40), primary_key=True),
        sa.Column("prospect_id", sa.String(32), sa.ForeignKey("prospects.id"), nullable=False, index=True),
        sa.Column("touch_number", sa.Integer, nullable=False),
        sa.Column("idempotency_key", sa.String(256), nullable=False, unique=True),
        sa.Column("message_id", sa.String(200), nullable=False, unique=True),
        sa.Column("artifact_id", sa.String(40), nullable=False),
        sa.Column("mailbox", sa.String(320), nullable=False),
        sa.Column("sending_domain", sa.String(255), nullable=False, index=True),
        sa.Column("to_hash", sa.String(40), nullable=False, index=True),
        sa.Column("payload", sa.JSON),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("provider_email_id", sa.String(80), index=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.Column("bounced_at", sa.DateTime(timezone=True)),
        sa.Column("complained_at", sa.DateTime(timezone=True)),
        sa.Column("tombstoned_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("prospect_id", "touch_number", name="uq_outbox_touch"),
    )
    op.create_table(
        "inbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_key", sa.String(200), nullable=False, unique=True),
        sa.Column("event_type", sa.String(60), nullable=False),
        sa.Column("prospect_id", sa.String(32), index=True),
        sa.Column("touch_id", sa.String(40)),
        sa.Column("provider_email_id", sa.String(80)),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("raw_message", sa.Text),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("outcome", sa.JSON),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True)),
        sa.Column("tombstoned_at", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    op.drop_table("inbox")
    op.drop_table("outbox")
    op.drop_column("prospects", "contact_timezone")

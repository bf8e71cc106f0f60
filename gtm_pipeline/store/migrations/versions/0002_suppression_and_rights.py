"""Suppression list and data-principal rights requests.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "suppressions",
        sa.Column("identity", sa.String(80), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("journal_entry_id", sa.String(40)),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "rights_requests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject_hash", sa.String(40), nullable=False, index=True),
        sa.Column("prospect_id", sa.String(32)),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("completed_at", TS),
        sa.Column("outcome", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("rights_requests")
    op.drop_table("suppressions")

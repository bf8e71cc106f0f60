"""Escalations: failures an operator must see and acknowledge (nothing fails silently).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "escalations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False, index=True),
        sa.Column("key", sa.String(200), nullable=False, unique=True),
        sa.Column("subject", sa.String(200)),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), index=True),
        sa.Column("acknowledged_by", sa.String(80)),
    )


def downgrade() -> None:
    op.drop_table("escalations")

"""What discovery sources answered, kept for a window so the same query is not paid for twice.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_answers",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("query_kind", sa.String(16), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("cost_usd", sa.Float, nullable=False),
        sa.Column("hits", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("source_answers")

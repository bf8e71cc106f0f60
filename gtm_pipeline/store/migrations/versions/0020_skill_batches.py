"""Skill calls deferred to a provider's batch API (``skill_batch_items``).

A backfill or re-score run that asks for batching queues its skill calls here instead of calling
the provider; the ``skill_batches`` sensor submits them as one batch per provider, at the batch
discount, and journals each result under the same key a direct call uses. One row per call
(``custom_id`` unique: queueing twice is one row), claimed by one pass at a time. Rows hold the
request (prompt inputs and sources, possibly personal data) and the prospect id, so an erasure
deletes them.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "skill_batch_items",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("custom_id", sa.String(64), nullable=False, unique=True),
        sa.Column("prospect_id", sa.String(64), index=True),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("skill", sa.String(100), nullable=False),
        sa.Column("skill_version", sa.String(32), nullable=False),
        sa.Column("code_version", sa.String(200), nullable=False),
        sa.Column("group_name", sa.String(100), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("input_hash", sa.String(64), nullable=False),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("batch_id", sa.String(100), index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(80)),
        sa.Column("claimed_at", sa.DateTime(timezone=True)),
        sa.Column("settled_at", sa.DateTime(timezone=True)),
        sa.Column("run_requested_at", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.String(300)),
        sa.Column("est_cost_usd", sa.Float),
    )


def downgrade() -> None:
    op.drop_table("skill_batch_items")

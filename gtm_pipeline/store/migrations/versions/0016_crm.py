"""CRM pushes: what was sent to the team's CRM for which prospect, so a push happens once, deal
outcomes are read back once, and an erasure can reach what was pushed.

Revision ID: 0016
Revises: 0014
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "crm_pushes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("prospect_id", sa.String(32), nullable=False, index=True),
        sa.Column("subject_hash", sa.String(80), index=True),
        sa.Column("system", sa.String(16), nullable=False),
        sa.Column("trigger", sa.String(40), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("company_id", sa.String(64)),
        sa.Column("company_created", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("contact_id", sa.String(64)),
        sa.Column("note_id", sa.String(64)),
        sa.Column("deal_id", sa.String(64)),
        sa.Column("deal_stage", sa.String(64)),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.String(300)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pushed_at", sa.DateTime(timezone=True)),
        sa.Column("erased_at", sa.DateTime(timezone=True)),
        sa.Column("claimed_by", sa.String(80)),
        sa.Column("claimed_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("prospect_id", "system", name="uq_crm_push"),
    )


def downgrade() -> None:
    op.drop_table("crm_pushes")

"""Initial schema: hypotheses, prospects, artifacts, journal, review queue, dead letters.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "hypotheses",
        sa.Column("slug", sa.String(64), primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "prospects",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("hypothesis_slug", sa.String(64), nullable=False, index=True),
        sa.Column("company_domain", sa.String(255), nullable=False, unique=True),
        sa.Column("company_name", sa.Text, nullable=False),
        sa.Column("contact_name", sa.Text),
        sa.Column("contact_email", sa.Text),
        sa.Column("contact_role", sa.Text),
        sa.Column("contact_email_hash", sa.String(40), index=True),
        sa.Column("state", sa.String(32), nullable=False, index=True),
        sa.Column("state_since", TS, nullable=False),
        sa.Column("discovered_at", TS, nullable=False),
        sa.Column("erased_at", TS),
    )
    op.create_table(
        "artifacts",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("prospect_id", sa.String(32), sa.ForeignKey("prospects.id"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("source_id", sa.String(200)),
        sa.Column("url", sa.Text),
        sa.Column("source_kind", sa.String(32)),
        sa.Column("published_on", sa.Date),
        sa.Column("content", sa.Text),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("meta", sa.JSON, nullable=False),
        sa.Column("journal_entry_id", sa.String(40)),
        sa.Column("run_id", sa.String(64)),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("tombstoned_at", TS),
    )
    op.create_index("ix_artifacts_prospect_kind", "artifacts", ["prospect_id", "kind", "created_at"])
    op.create_table(
        "journal",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("entry_id", sa.String(40), nullable=False, unique=True),
        sa.Column("subject", sa.String(80), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("payload_hash", sa.String(64), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        sa.Column("dedupe_key", sa.String(300), unique=True),
        sa.Column("run_id", sa.String(64)),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("tombstoned_at", TS),
        sa.UniqueConstraint("subject", "seq", name="uq_journal_subject_seq"),
    )
    op.create_table(
        "review_queue",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("prospect_id", sa.String(32), sa.ForeignKey("prospects.id"), nullable=False, index=True),
        sa.Column("artifact_id", sa.String(40), sa.ForeignKey("artifacts.id"), nullable=False, unique=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("decided_at", TS),
        sa.Column("decided_by", sa.String(80)),
        sa.Column("reason", sa.Text),
    )
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("prospect_id", sa.String(32), index=True),
        sa.Column("skill", sa.String(80), nullable=False),
        sa.Column("skill_version", sa.String(32), nullable=False),
        sa.Column("group_name", sa.String(80), nullable=False),
        sa.Column("input_hash", sa.String(64), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("reason_kind", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("raw_output", sa.Text),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("resolved_at", TS),
        sa.UniqueConstraint(
            "prospect_id", "skill", "skill_version", "input_hash", name="uq_dead_letter_input"
        ),
    )


def downgrade() -> None:
    for table in ("dead_letters", "review_queue", "journal", "artifacts", "prospects", "hypotheses"):
        op.drop_table(table)

"""Claims on touches and inbox events: who took a row for a pass, and when.

Two send passes or two inbox passes at once (a schedule tick overlapping a manual run, two
daemons) each take a row with one conditional UPDATE before acting on it, so only one acts; the
time of the claim lets a later pass take over a row whose claimer died (after a lease).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TABLES = ("outbox", "inbox")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("claimed_by", sa.String(80)))
            batch.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("claimed_at")
            batch.drop_column("claimed_by")

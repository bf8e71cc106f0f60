"""Prospects remember the journal row that put them in their current state.

Sensors keep a bounded cursor (one integer) over "entered state S after row N" instead of a
list of every prospect they have seen.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("prospects") as batch:
        batch.add_column(sa.Column("state_entry", sa.Integer))
        batch.create_index("ix_prospects_state_entry", ["state", "state_entry"])
    op.execute(
        "UPDATE prospects SET state_entry = (SELECT max(journal.id) FROM journal "
        "WHERE journal.subject = prospects.id AND journal.kind IN ('discovered', 'transition'))"
    )


def downgrade() -> None:
    with op.batch_alter_table("prospects") as batch:
        batch.drop_index("ix_prospects_state_entry")
        batch.drop_column("state_entry")

"""The inbox's commit order on Postgres: each row carries the id of the transaction that stored it.

The ``inbox_events`` sensor walks the inbox with a cursor. On Postgres a sequence hands out row ids
before commit, so a row with a lower id can become visible *after* one with a higher id, and a
cursor over ids alone would pass it by. Every inbox insert used to take one advisory lock to force
id order, which made every receiver worker's writes wait for each other. Instead each row now
records its transaction (``pg_current_xact_id()``, 64-bit, never wraps) and the sensor reads only
rows of transactions older than every transaction still running: those rows are final.

Rows stored before this migration are final already and get 0, so a cursor over ids (the old
format) keeps its meaning. SQLite keeps 0: its one write lock already orders commits by id.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A constant default: instant on Postgres (no rewrite of the table under its lock), and every row
    # already stored (final) gets 0. Then new rows take their transaction's id.
    with op.batch_alter_table("inbox") as batch:
        batch.add_column(sa.Column("commit_order", sa.BigInteger, nullable=False, server_default="0"))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE inbox ALTER COLUMN commit_order SET DEFAULT (pg_current_xact_id()::text::bigint)"
        )
    op.create_index("ix_inbox_commit_order", "inbox", ["commit_order", "id"])


def downgrade() -> None:
    op.drop_index("ix_inbox_commit_order", table_name="inbox")
    with op.batch_alter_table("inbox") as batch:
        batch.drop_column("commit_order")

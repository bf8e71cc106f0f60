"""Indexes for the console's board at 300,000 prospects and more.

The board counts prospects by state under its filters, lists a page of them newest state change
first, and shows where the last week's inputs went. Without these indexes each request sorted the
whole prospects table for its page and scanned the whole journal for the week's refusals: 0.4-0.5 s
at 300,000 prospects, past the console's 300 ms goal.

- ``(state, state_since, id)``, ``(state_since, id)``, ``(hypothesis_slug, state_since, id)`` and
  ``(hypothesis_slug, state, state_since, id)``: each filter of the board (state, hypothesis, both,
  or none; the age filter is a range on ``state_since``) finds its page in index order, and picks
  the page's ids from the index alone however deep the page is; the counts by state under a
  hypothesis read the last one alone. The first also serves "who left the funnel this week".
- ``journal (kind, created_at)``: the week's fetch refusals and discovery rejections are a range
  of a few kinds instead of a scan of every journal entry.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

# name -> (table, columns); the same declarations as schema.py's board indexes.
INDEXES: dict[str, tuple[str, list[str]]] = {
    "ix_prospects_state_since": ("prospects", ["state", "state_since", "id"]),
    "ix_prospects_since": ("prospects", ["state_since", "id"]),
    "ix_prospects_hypothesis_since": ("prospects", ["hypothesis_slug", "state_since", "id"]),
    "ix_prospects_hypothesis_state": ("prospects", ["hypothesis_slug", "state", "state_since", "id"]),
    "ix_journal_kind_created": ("journal", ["kind", "created_at"]),
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _columns) in INDEXES.items():
        op.drop_index(name, table_name=table)

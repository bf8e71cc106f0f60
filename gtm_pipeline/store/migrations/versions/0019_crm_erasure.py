"""CRM erasure: what a push created versus matched, and creates whose answer was lost.

* ``contact_created``: False when the contact was matched by address, i.e. the team's CRM held it
  before the pipeline pushed. An erasure never deletes such a contact (it is the team's own record):
  it deletes what the push added and hands the rest to the operator.
* ``maybe_created``: a create was sent and its answer lost (a read timeout, a 5xx). The CRM may hold
  an object whose id the row lacks; it carries the push's key (HubSpot property ``gtm_push_id``),
  and the erasure (or the next push attempt) finds it by that.

Rows pushed before this revision get False for both: a contact of theirs counts as the team's, so
an erasure hands it to the operator rather than deleting something the pipeline may not have made.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("crm_pushes") as batch:
        batch.add_column(sa.Column("contact_created", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("maybe_created", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("crm_pushes") as batch:
        batch.drop_column("maybe_created")
        batch.drop_column("contact_created")

"""Alembic environment: always run programmatically with a connection from ``engine.py``.

The caller opens the (write) transaction, so SQLite migrations are transactional and two
processes starting at once serialize on the database's write lock instead of racing.
"""

from __future__ import annotations

from alembic import context

from gtm_pipeline.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached by a bare `alembic` command line
    raise RuntimeError("run migrations through gtm_pipeline.store.engine.migrate()")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies tables
    transactional_ddl=True,
)
context.run_migrations()

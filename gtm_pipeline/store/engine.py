"""Engine construction and migrations.

SQLite is the embedded default and must be safe with the webhook receiver, the console
and several Dagster run processes writing at once:

* WAL mode lets readers proceed while one writer writes;
* every write transaction starts with ``BEGIN IMMEDIATE``, so a writer takes the write
  lock up front and waits (``busy_timeout``) instead of failing with "database is locked"
  when it would otherwise upgrade a read lock mid-transaction;
* read-only work uses a deferred ``BEGIN`` and never blocks writers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

BUSY_TIMEOUT_MS = 60_000
READ_ONLY = {"gtm_read_only": True}


def create_engine(url: str) -> Engine:
    """Create an engine for ``url`` with the SQLite settings above when it is SQLite."""
    if url.startswith("sqlite"):
        database = sa.engine.make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        _configure_sqlite(engine)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def _configure_sqlite(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        read_only = connection.get_execution_options().get("gtm_read_only", False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    return config


def schema_head() -> str:
    """The newest migration revision shipped with this code."""
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (``None`` for an empty database)."""
    with engine.connect().execution_options(**READ_ONLY) as connection:
        return MigrationContext.configure(connection).get_current_revision()


def migrate(engine: Engine) -> str:
    """Bring the database to the newest revision; a no-op (one read) when it is there."""
    head = schema_head()
    if current_revision(engine) == head:
        return head
    config = _alembic_config()
    with engine.begin() as connection:  # one write transaction: concurrent starters queue
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    return head

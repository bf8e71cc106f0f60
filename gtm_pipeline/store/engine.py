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

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

BUSY_TIMEOUT_MS = 60_000
WAL_SWITCH_ATTEMPTS = 8
READ_ONLY = {"gtm_read_only": True}


def create_engine(url: str, *, read_only: bool = False) -> Engine:
    """Create an engine for ``url`` with the SQLite settings above when it is SQLite.

    ``read_only`` opens SQLite with ``mode=ro`` (and Postgres with a read-only default
    transaction), so the database itself refuses any write.
    """
    if url.startswith("sqlite"):
        database = sa.engine.make_url(url).database
        if read_only:
            if not database or not Path(database).is_file():
                raise FileNotFoundError(f"no store at {database}: run the pipeline first")
            engine = sa.create_engine(
                f"sqlite:///file:{Path(database).resolve()}?mode=ro&uri=true",
                connect_args={"timeout": BUSY_TIMEOUT_MS / 1000},
            )
            _configure_sqlite(engine, read_only=True)
            return engine
        if database and database != ":memory:":
            private_file(Path(database))
        engine = sa.create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        _configure_sqlite(engine)
        return engine
    if read_only:
        return sa.create_engine(url, pool_pre_ping=True, execution_options={"postgresql_readonly": True})
    return sa.create_engine(url, pool_pre_ping=True)


def private_file(path: Path) -> None:
    """Create the store's file (and its folder) readable by its owner only: it holds prospects'
    names, addresses and replies. SQLite gives its ``-wal`` and ``-shm`` files the database file's
    mode, so they follow. An existing store left readable by others is tightened, not refused."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)


def _ensure_wal(cursor: Any) -> None:
    """Switch a database to WAL once (the mode is persistent in the file).

    The switch needs an exclusive lock and SQLite does not wait on the busy handler for
    it, so two processes opening a brand-new file at once can see "database is locked":
    retry with backoff instead of failing the process.
    """
    if cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
        return
    for attempt in range(WAL_SWITCH_ATTEMPTS):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError:
            if attempt == WAL_SWITCH_ATTEMPTS - 1:
                raise
            time.sleep(0.02 * 2**attempt)


def _configure_sqlite(engine: Engine, *, read_only: bool = False) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        if read_only:
            cursor.execute("PRAGMA query_only=ON")
            cursor.close()
            return
        _ensure_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Overwrite deleted content with zeros: an erased person must not linger in free pages.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        deferred = read_only or connection.get_execution_options().get("gtm_read_only", False)
        connection.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")


def compact(engine: Engine) -> bool:
    """Rewrite a SQLite database so no erased content survives in the WAL or free pages.

    Returns False when another process kept the write-ahead log from being reset (the
    content is then still zeroed in the database file, but old page images may remain in
    the WAL until the next checkpoint). Postgres needs nothing here (VACUUM is routine).
    """
    if engine.dialect.name != "sqlite":
        return True
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cursor.execute("VACUUM")
        busy, _log, _done = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        cursor.close()
        return not busy
    finally:
        raw.close()


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

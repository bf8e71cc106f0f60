"""The store: one unit of work over the system of record, and a repository per aggregate.

``Store`` owns the engine, the clock and the transactions (``writing()`` takes the write lock up
front, ``reading()`` never blocks a writer); each repository on it owns one aggregate's writes and
reads, and they meet only through these public parts (a tombstone, for one, clears every table
that holds the person, through one transaction), so the invariants live in one place: idempotent
inserts, a journal entry for every state change in the same transaction as the change, and
hash-chained journal entries.

    store.prospects     prospects, hypotheses, and the state machine (apply_event)
    store.artifacts     fetched sources and skill results
    store.journal       the append-only, hash-chained journal
    store.reviews       the review queue and audit samples
    store.dead_letters  failed skill calls kept for the operator
    store.privacy       suppression list, rights requests, tombstones
    store.spend         the spend ledger
    store.ledger        the send ledger (outbox), the sending switch
    store.inbox         the inbox of provider events, stored once and processed once
    store.skill_batches skill calls queued for the providers' batch APIs, and their batches
    store.escalations   what waits for the operator's acknowledgement
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gtm_pipeline.domain.clock import Clock, SystemClock
from gtm_pipeline.store import schema as t
from gtm_pipeline.store.artifacts import Artifacts
from gtm_pipeline.store.console_sessions import ConsoleSessions
from gtm_pipeline.store.contacts import Contacts
from gtm_pipeline.store.crm_pushes import CrmPushes
from gtm_pipeline.store.dead_letters import DeadLetters
from gtm_pipeline.store.engine import (
    READ_ONLY,
    compact,
    create_engine,
    current_revision,
    migrate,
    schema_head,
)
from gtm_pipeline.store.escalations import Escalations
from gtm_pipeline.store.imports import Imports
from gtm_pipeline.store.inbox import Inbox
from gtm_pipeline.store.journal import Journal
from gtm_pipeline.store.ledger import OutreachLedger
from gtm_pipeline.store.privacy import Privacy
from gtm_pipeline.store.prospects import Prospects
from gtm_pipeline.store.rate_buckets import RateBuckets
from gtm_pipeline.store.reviews import Reviews
from gtm_pipeline.store.skill_batches import SkillBatches
from gtm_pipeline.store.source_answers import SourceAnswers
from gtm_pipeline.store.spend import Spend


class Store:
    """Access to the system of record."""

    def __init__(self, engine: Engine, *, read_only: bool = False, clock: Clock | None = None) -> None:
        self.engine = engine
        self.read_only = read_only
        self.clock: Clock = clock or SystemClock()
        self.prospects = Prospects(self)
        self.artifacts = Artifacts(self)
        self.journal = Journal(self)
        self.reviews = Reviews(self)
        self.dead_letters = DeadLetters(self)
        self.privacy = Privacy(self)
        self.spend = Spend(self)
        self.ledger = OutreachLedger(self)
        self.inbox = Inbox(self)
        self.skill_batches = SkillBatches(self)
        self.escalations = Escalations(self)
        self.contacts = Contacts(self)
        self.imports = Imports(self)
        self.source_answers = SourceAnswers(self)
        self.console_sessions = ConsoleSessions(self)
        self.rate_buckets = RateBuckets(self)
        self.crm = CrmPushes(self)

    def now(self) -> dt.datetime:
        """The injected clock's time: every timestamp the store writes or compares comes from here."""
        return self.clock.now()

    @classmethod
    def open(cls, url: str, *, clock: Clock | None = None) -> Store:
        """Open (and migrate, if needed) the store at ``url``."""
        engine = create_engine(url)
        migrate(engine)
        return cls(engine, clock=clock)

    @classmethod
    def open_read_only(cls, url: str, *, clock: Clock | None = None) -> Store:
        """Open the store so that no write can happen, by construction.

        SQLite is opened with ``mode=ro`` (the database engine itself refuses writes) and no
        migration runs; every write method raises before touching the database. Dry runs
        and replays use this.
        """
        engine = create_engine(url, read_only=True)
        found, head = current_revision(engine), schema_head()
        if found != head:
            engine.dispose()
            raise RuntimeError(
                f"the store is at schema {found}, this code needs {head}: run `gtm demo` to migrate"
            )
        return cls(engine, read_only=True, clock=clock)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def writing(self) -> Iterator[sa.Connection]:
        if self.read_only:
            raise PermissionError("this store was opened read-only")
        with self.engine.begin() as connection:
            yield connection

    @contextmanager
    def rolled_back(self) -> Iterator[sa.Connection]:
        """A write transaction that is always rolled back: a dry run of the real write path."""
        if self.read_only:
            raise PermissionError("this store was opened read-only")
        with self.engine.connect() as connection:
            transaction = connection.begin()
            try:
                yield connection
            finally:
                transaction.rollback()

    @contextmanager
    def reading(self) -> Iterator[sa.Connection]:
        with self.engine.connect().execution_options(**READ_ONLY) as connection, connection.begin():
            yield connection

    def compact(self) -> bool:
        """Make erased content unrecoverable from the database files (see ``engine.compact``)."""
        return compact(self.engine)

    def copy_into(self, url: str, *, clock: Clock | None = None, batch: int = 1000) -> Store:
        """A new store at ``url`` (which must be empty) holding every row of this one: what a
        rehearsal works on, so the operator's own store is only ever read."""
        target = Store.open(url, clock=clock or self.clock)
        with target.reading() as c:
            if any(
                c.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                for table in t.metadata.sorted_tables
            ):
                target.close()
                raise ValueError(f"{url} is not empty: a copy needs an empty store")
        with self.reading() as source, target.writing() as sink:
            for table in t.metadata.sorted_tables:
                rows: list[dict[str, Any]] = []
                for row in source.execute(sa.select(table)).mappings():
                    rows.append(dict(row))
                    if len(rows) >= batch:
                        sink.execute(table.insert(), rows)
                        rows = []
                if rows:
                    sink.execute(table.insert(), rows)
        return target

    def content_digest(self) -> str:
        """A hash of every row of every table: equal before and after means nothing was written."""
        digest = hashlib.sha256()
        with self.reading() as c:
            for table in t.metadata.sorted_tables:
                digest.update(table.name.encode())
                for row in c.execute(sa.select(table).order_by(*table.primary_key.columns)):
                    digest.update(repr(tuple(row)).encode())
        return digest.hexdigest()

    def table_counts(self) -> dict[str, int]:
        """Row counts of every table (what the idempotency tests compare between runs)."""
        with self.reading() as c:
            return {
                table.name: int(c.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
                for table in t.metadata.sorted_tables
            }

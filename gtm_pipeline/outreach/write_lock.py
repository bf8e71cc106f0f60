"""One write transaction at a time per store in this process: the receiver's writes, serialized.

SQLite has one write lock per database. Left to itself, every receiver thread that wants it sits in
SQLite's busy handler, which *sleeps* (1, 2, 5 ... 100 ms) and polls; with eight threads on one file
about half of each thread's time went to those sleeps, and the unlucky ones waited 100 ms or more
(the receiver's p99). A :class:`threading.Lock` taken before ``BEGIN IMMEDIATE`` hands the write lock
from one thread of this process to the next the moment it is free, so SQLite's busy handler is left
to arbitrate only between *processes* (another ``gtm serve`` worker, a Dagster run, the CLI).

The webhook path goes further (:mod:`gtm_pipeline.outreach.batch_writer`): the events waiting at
that moment are committed in one transaction (by the event loop when this lock is free at once, else
by one writer thread), so they share one ``BEGIN IMMEDIATE`` and one commit. The lock is what they
and every other write of the receiver in this process (one-click unsubscribes,
:func:`~gtm_pipeline.outreach.ingest.ingest` called directly, a batch's events written one by one
after it failed) take turns at.

Postgres locks rows, not the database: writes there run concurrently, and two deliveries of one
``svix-id`` meet at the inbox's unique key (``ON CONFLICT DO NOTHING`` waits for the first to
commit). Two *different* events suppressing the same person at once can still collide on the
suppression list's key; the loser's transaction is rolled back whole and run again, once it can see
the winner's row.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TypeVar

import sqlalchemy as sa

from gtm_pipeline.store import Store

T = TypeVar("T")
RACE_ATTEMPTS = 3  # a unique-key race is lost at most once per concurrent writer of the same person
_LOCKS: weakref.WeakKeyDictionary[Store, threading.Lock] = weakref.WeakKeyDictionary()
_GUARD = threading.Lock()


def write_lock(store: Store) -> AbstractContextManager[object]:
    """The lock that serializes this process's write transactions on ``store`` (SQLite), or a no-op
    (Postgres: the database arbitrates rows itself)."""
    lock = sqlite_lock(store)
    return nullcontext() if lock is None else lock


def sqlite_lock(store: Store) -> threading.Lock | None:
    """:func:`write_lock` as the lock itself, for a caller that must not wait for it (the receiver's
    event loop tries it and hands its batch to the writer thread when it is taken); None on Postgres."""
    if store.engine.dialect.name != "sqlite":
        return None
    with _GUARD:
        lock = _LOCKS.get(store)
        if lock is None:
            lock = _LOCKS[store] = threading.Lock()
        return lock


def serialized_write(store: Store, work: Callable[[sa.Connection], T]) -> T:
    """Run ``work`` in one write transaction, holding this process's write lock on ``store``.

    Everything ``work`` reads and writes commits together or not at all. On Postgres a transaction
    that lost a race on a unique key (``IntegrityError``) is run again from the start; anything
    else propagates (the receiver answers 5xx and the provider retries)."""
    postgres = store.engine.dialect.name == "postgresql"
    for attempt in range(RACE_ATTEMPTS):
        try:
            with write_lock(store), store.writing() as c:
                return work(c)
        except sa.exc.IntegrityError:
            if not postgres or attempt == RACE_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover

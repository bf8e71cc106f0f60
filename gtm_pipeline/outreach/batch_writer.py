"""The receiver's one writer: a thread that commits the events waiting for it together.

Each webhook used to take a thread from the pool, wait for the write lock and commit alone: a
thread hop (a few hundred microseconds of wake-ups on a busy machine), a ``BEGIN IMMEDIATE`` and a
commit per event, and on Postgres a WAL flush per event. Here the request handler hands its write to
one thread per store and awaits the answer; that thread takes everything that is waiting (up to
:data:`MAX_BATCH`) and runs it in ONE transaction, each event's correlation read, inbox row and
suppressions in turn, under this process's write lock (:mod:`gtm_pipeline.outreach.write_lock`).
Nothing is answered before the commit that holds it, so a 2xx still means stored with its effects.

If that transaction fails, it is rolled back whole and each of its events is written again in a
transaction of its own (:func:`serialized_write`), so one bad event (or a lost race on a unique
key, or a deadlock between two Postgres workers) costs its neighbours nothing: only the event
whose own transaction fails is answered 5xx, and nothing of it is stored. A batch of one is not
written twice: its failure is its answer.

On Postgres, which locks rows and not the database, :data:`POSTGRES_WRITERS` such threads take
batches side by side. A thread ends after :data:`IDLE_SECONDS` without work and is started again by
the next event, so a store that stops receiving (a test, a rehearsal) leaves no thread behind.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

import sqlalchemy as sa

from gtm_pipeline.outreach.write_lock import serialized_write, write_lock
from gtm_pipeline.store import Store

T = TypeVar("T")
Work = Callable[[sa.Connection], Any]
MAX_BATCH = 64  # bounds the transaction (and the lock's hold) under a burst
POSTGRES_WRITERS = 2
IDLE_SECONDS = 2.0


class BatchWriter:
    """Writes handed over from any thread or event loop, committed in batches by one thread."""

    def __init__(self, store: Store, *, max_batch: int = MAX_BATCH, threads: int | None = None) -> None:
        if store.read_only:
            raise PermissionError("this store was opened read-only")
        self.store = store
        self.max_batch = max_batch
        # SQLite: one writer (there is one write lock). Postgres: a few, each on its own connection,
        # so one batch's round trips and WAL flush overlap the next batch's.
        sqlite = store.engine.dialect.name == "sqlite"
        self.threads = threads if threads is not None else (1 if sqlite else POSTGRES_WRITERS)
        self._queue: queue.SimpleQueue[tuple[Work, Future[Any]]] = queue.SimpleQueue()
        self._guard = threading.Lock()
        self._alive = 0

    async def write(self, work: Callable[[sa.Connection], T]) -> T:
        """Run ``work`` in a write transaction on the writer thread; its result once committed."""
        done: Future[T] = Future()
        with self._guard:
            self._queue.put((work, done))
            if self._alive < self.threads:
                self._alive += 1
                threading.Thread(target=self._run, name="gtm-receiver-writer", daemon=True).start()
        return await asyncio.wrap_future(done)

    def _take(self) -> list[tuple[Work, Future[Any]]] | None:
        """What waits (at least one item, blocking until there is), or None when idle long enough."""
        while True:
            try:
                first = self._queue.get(timeout=IDLE_SECONDS)
                break
            except queue.Empty:
                with self._guard:  # a write handed over now sees this thread gone and starts one
                    if self._queue.empty():
                        self._alive -= 1
                        return None
        batch = [first]
        while len(batch) < self.max_batch:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        # A request whose client went away was cancelled: no answer is owed, nothing is written
        # (the provider retries what it got no 2xx for). Running futures can no longer be cancelled.
        return [item for item in batch if item[1].set_running_or_notify_cancel()]

    def _run(self) -> None:
        # One connection for the thread's life: no pool checkout (and Postgres ping) per batch. A
        # connection that broke is replaced by SQLAlchemy at the next ``begin``.
        counted = True  # this thread is still in ``_alive``
        try:
            with self.store.engine.connect() as connection:
                while (batch := self._take()) is not None:
                    self._commit(connection, batch)
                counted = False  # ``_take`` took it out when it went idle
        except BaseException as failure:
            self._died(failure, counted)

    def _died(self, failure: BaseException, counted: bool) -> None:
        """The writer could not go on (no connection: the database restarting, say). It leaves
        ``_alive``, so the next write starts a new writer; if it was the last one, every write
        still waiting is answered with the failure (a 5xx: the provider retries it) rather than
        left hanging."""
        pending: list[tuple[Work, Future[Any]]] = []
        with self._guard:
            if counted:
                self._alive -= 1
            while self._alive == 0:
                try:
                    pending.append(self._queue.get_nowait())
                except queue.Empty:
                    break
        for _, done in pending:
            if done.set_running_or_notify_cancel():
                done.set_exception(failure)

    def _commit(self, connection: sa.Connection, batch: list[tuple[Work, Future[Any]]]) -> None:
        if not batch:
            return
        try:
            with write_lock(self.store), connection.begin():
                results = [work(connection) for work, _ in batch]
        except BaseException as failure:  # rolled back whole: nothing of any of them is stored
            if len(batch) == 1:
                batch[0][1].set_exception(failure)
                return
            for work, done in batch:  # each alone, so only the event that fails is answered 5xx
                try:
                    done.set_result(serialized_write(self.store, work))
                except BaseException as alone:
                    done.set_exception(alone)
            return
        for (_, done), result in zip(batch, results, strict=True):
            done.set_result(result)

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

On SQLite the event loop itself commits when it can (:meth:`BatchWriter._flush_inline`): the writes
handed over while the loop ran its ready callbacks are committed together at the end of that turn, on
the loop, if this process's write lock is free and SQLite's write lock can be had *at once*
(``busy_timeout`` 0 for that ``BEGIN IMMEDIATE``). An SQLite commit in WAL mode with
``synchronous=NORMAL`` takes microseconds, while handing work to a thread and back costs wake-ups on
both sides and the GIL's turns between them: at saturation that hop was a third of an event's CPU.
When the lock is taken (another thread of this process, a Dagster run, the CLI), the batch goes to
the writer thread, which waits for it as before; the loop never waits on a lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from typing import Any, TypeVar

import sqlalchemy as sa

from gtm_pipeline.outreach.write_lock import serialized_write, sqlite_lock, write_lock
from gtm_pipeline.store import Store
from gtm_pipeline.store.engine import BUSY_TIMEOUT_MS

T = TypeVar("T")
Work = Callable[[sa.Connection], Any]
MAX_BATCH = 64  # bounds the transaction (and the lock's hold) under a burst
POSTGRES_WRITERS = 2
IDLE_SECONDS = 2.0
# Turns of the event loop a batch waits for more writes before it commits on the loop: one turn
# polls the sockets (requests that arrived meanwhile become tasks), the next runs those tasks up to
# their write. Each commit writes every page it touched (the inbox row and its three indexes) to the
# WAL, so at saturation a commit shared by more events is most of the saving; a turn costs a few
# microseconds, and nothing when the loop is idle but this one callback.
GATHER_TURNS = 2


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
        self._lock = sqlite_lock(store)  # None on Postgres: no commits on the loop there
        self._pending: list[tuple[Work, asyncio.Future[Any]]] = []
        self._connection: sa.Connection | None = None  # the loop's, while events keep coming
        self._used = False

    async def write(self, work: Callable[[sa.Connection], T]) -> T:
        """Run ``work`` in a write transaction (this turn of the loop's, or the writer thread's);
        its result once committed."""
        if self._lock is None:
            return await self._threaded(work)
        loop = asyncio.get_running_loop()
        done: asyncio.Future[T] = loop.create_future()
        self._pending.append((work, done))
        if len(self._pending) == 1:  # the first of this turn schedules the commit after the others
            loop.call_soon(self._flush_inline, GATHER_TURNS)
        return await done

    def _flush_inline(self, turns: int = 0) -> None:
        """Commit the writes handed over, or hand them to the writer thread (see above); first let
        the loop turn ``turns`` more times while the batch is not full."""
        if turns and len(self._pending) < self.max_batch:
            asyncio.get_running_loop().call_soon(self._flush_inline, turns - 1)
            return
        batch = [(work, done) for work, done in self._pending if not done.cancelled()]
        self._pending = []
        if not batch:
            return
        assert self._lock is not None
        if not self._lock.acquire(blocking=False):
            self._hand_over(batch)
            return
        try:
            self._commit_inline(batch)
        except Exception as failure:  # anything unforeseen: every request still gets its answer (a 5xx)
            for _, done in batch:
                if not done.done():
                    done.set_exception(failure)
            connection, self._connection = self._connection, None  # a fresh one for the next batch
            if connection is not None:
                with contextlib.suppress(Exception):
                    connection.invalidate()
        finally:
            self._lock.release()

    def _inline_connection(self) -> sa.Connection:
        """The loop's own connection, kept while events keep coming (a pool checkout, two pragmas
        and a reset per batch cost more than the batch), let go after :data:`IDLE_SECONDS`."""
        if self._connection is None or self._connection.invalidated:
            connection = self.store.engine.connect()
            driver = connection.connection.driver_connection
            assert driver is not None
            driver.execute("PRAGMA busy_timeout=0")  # SQLite's write lock now, or not on the loop
            self._connection = connection
            asyncio.get_running_loop().call_later(IDLE_SECONDS, self._let_go)
        self._used = True
        return self._connection

    def _let_go(self) -> None:
        """Close the loop's connection if no batch used it since the last look, else look again later."""
        if self._used and self._connection is not None:
            self._used = False
            asyncio.get_running_loop().call_later(IDLE_SECONDS, self._let_go)
            return
        connection, self._connection = self._connection, None
        if connection is None:
            return
        with contextlib.suppress(Exception):  # back to the pool as every other connection is
            if not connection.invalidated:
                driver = connection.connection.driver_connection
                assert driver is not None
                driver.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        with contextlib.suppress(Exception):
            connection.close()

    def _commit_inline(self, batch: list[tuple[Work, asyncio.Future[Any]]]) -> None:
        try:
            connection = self._inline_connection()
        except Exception as failure:  # no database: answered (a 5xx, the provider retries)
            for _, done in batch:
                done.set_exception(failure)
            return
        try:
            transaction = connection.begin()  # BEGIN IMMEDIATE
        except sa.exc.OperationalError:  # another process writes: the thread waits for it
            self._hand_over(batch)
            return
        try:
            with transaction:
                results = [work(connection) for work, _ in batch]
        except Exception as failure:  # rolled back whole
            if len(batch) == 1 and not _busy(failure):
                batch[0][1].set_exception(failure)
            else:  # the thread writes each alone after its own batch fails
                self._hand_over(batch)
            return
        for (_, done), result in zip(batch, results, strict=True):
            done.set_result(result)

    def _hand_over(self, batch: list[tuple[Work, asyncio.Future[Any]]]) -> None:
        for work, done in batch:
            asyncio.ensure_future(self._threaded(work)).add_done_callback(partial(_answer, done))

    async def _threaded(self, work: Callable[[sa.Connection], T]) -> T:
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


def _busy(failure: BaseException) -> bool:
    """SQLite said "busy" / "locked" to the loop's connection, which does not wait: the writer
    thread's connection does, so the event goes there instead of being answered 5xx."""
    cause = getattr(failure, "orig", failure)
    return isinstance(cause, sqlite3.OperationalError) and any(
        word in str(cause) for word in ("locked", "busy")
    )


def _answer(done: asyncio.Future[Any], threaded: asyncio.Future[Any]) -> None:
    """Pass the writer thread's answer on to the request that waits for it (if it still does)."""
    if done.cancelled():
        return
    if threaded.cancelled():
        done.cancel()
    elif (failure := threaded.exception()) is not None:
        done.set_exception(failure)
    else:
        done.set_result(threaded.result())

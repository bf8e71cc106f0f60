"""Appends to one subject's journal from many writers at once: threads of one process and separate
OS processes, on the backend the run asked for (SQLite here, Postgres in the Postgres pass). The
chain must come out whole: every writer's entry kept, ``seq`` 1..n without a gap, each entry linked
to the one before it, and an entry with a ``dedupe_key`` written once however many race to write it.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from gtm_pipeline.config import load_settings
from gtm_pipeline.defs.outreach.conversation import HELD_GRACE, held_reason, restarted_if_restored
from gtm_pipeline.domain.clock import FixedClock
from gtm_pipeline.outreach.write_lock import serialized_write
from gtm_pipeline.pipeline.audit import chain_problems
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.store import Store
from tests.conftest import TEST_START
from tests.threads import at_once

SUBJECT = "p_0000000000000000race"
THREADS, PER_THREAD = 6, 12
PROCESSES, PER_PROCESS = 2, 25
ctx = multiprocessing.get_context("spawn")


def _whole_chain(store: Store, expected: int) -> None:
    entries = store.journal.entries(SUBJECT)
    assert [e.seq for e in entries] == list(range(1, expected + 1))
    assert chain_problems(SUBJECT, entries) == []


def test_notes_written_at_once_from_many_threads_make_one_whole_chain(services: Services) -> None:
    journal = services.store.journal

    def notes(writer: int) -> list[str]:
        return [
            journal.append(
                subject=SUBJECT, kind="note", actor=f"operator:{writer}", payload={"writer": writer, "n": n}
            )
            for n in range(PER_THREAD)
        ]

    written = [entry for batch in at_once(THREADS, notes) for entry in batch]
    assert len(set(written)) == THREADS * PER_THREAD
    _whole_chain(services.store, THREADS * PER_THREAD)
    kept = {(e.payload["writer"], e.payload["n"]) for e in services.store.journal.entries(SUBJECT)}
    assert kept == {(w, n) for w in range(THREADS) for n in range(PER_THREAD)}


def test_the_same_deduplicated_entries_raced_by_many_threads_are_written_once(services: Services) -> None:
    journal = services.store.journal
    journal.append(subject=SUBJECT, kind="note", actor="operator:first", payload={"n": 0})
    calls = 10

    def same_calls(writer: int) -> list[str]:
        return [
            journal.append(
                subject=SUBJECT,
                kind="skill_result",
                actor=f"run:{writer}",
                payload={"call": k},
                dedupe_key=f"same-call-{k}",
            )
            for k in range(calls)
        ]

    seen = at_once(THREADS, same_calls)
    assert all(ids == seen[0] for ids in seen) and len(set(seen[0])) == calls  # each call once, same id
    _whole_chain(services.store, 1 + calls)


def _process_notes(barrier: Any, results: Any, writer: int) -> None:
    """One process: its own store on the GTM_HOME / GTM_DATABASE_URL it was started with."""
    try:
        store = Store.open(load_settings().paths.database_url, clock=FixedClock(TEST_START))
        barrier.wait(timeout=120)
        for n in range(PER_PROCESS):
            store.journal.append(
                subject=SUBJECT, kind="note", actor=f"process:{writer}", payload={"writer": writer, "n": n}
            )
        store.close()
        results.put(("ok", writer))
    except BaseException:
        barrier.abort()
        results.put(("error", traceback.format_exc()))


def test_notes_written_at_once_from_two_processes_make_one_whole_chain(gtm_home: Path) -> None:
    store = Store.open(load_settings().paths.database_url, clock=FixedClock(TEST_START))  # migrated once
    barrier, results = ctx.Barrier(PROCESSES), ctx.Queue()
    workers = [ctx.Process(target=_process_notes, args=(barrier, results, w)) for w in range(PROCESSES)]
    for process in workers:
        process.start()
    answers = [results.get(timeout=300) for _ in workers]
    for process in workers:
        process.join(timeout=60)
    assert [detail for kind, detail in answers if kind == "error"] == []
    _whole_chain(store, PROCESSES * PER_PROCESS)
    by = {(e.actor, e.payload["n"]) for e in store.journal.entries(SUBJECT)}
    assert by == {(f"process:{w}", n) for w in range(PROCESSES) for n in range(PER_PROCESS)}
    assert all(e.created_at == TEST_START.astimezone(dt.UTC) for e in store.journal.entries(SUBJECT))
    store.close()


def test_a_journal_row_never_becomes_visible_before_a_lower_one(services: Services) -> None:
    """The sensors' cursors are journal row ids: once a reader has seen row N, no row below N may
    commit later. A writer that holds a journal row makes the next writer (of another subject)
    wait for its commit, so ids become visible in order (on Postgres too, whose sequence hands out
    ids before commit)."""
    store = services.store
    later_row: list[int] = []

    def second_writer() -> None:
        with store.writing() as c:
            _entry, row = store.journal.append_row_in(
                c, subject="p_0000000000000000late", kind="note", actor="test", payload={}, now=TEST_START
            )
        later_row.append(row)

    with store.writing() as c:
        _entry, first_row = store.journal.append_row_in(
            c, subject="p_000000000000000first", kind="note", actor="test", payload={}, now=TEST_START
        )
        writer = threading.Thread(target=second_writer)
        writer.start()
        time.sleep(0.5)  # a plain sleep: timed joins misbehave under libfaketime (CI's date passes)
        assert writer.is_alive(), "the second writer did not wait for the first one's commit"
        assert later_row == []
    writer.join()
    assert later_row and later_row[0] > first_row


def test_the_inbox_walk_never_passes_an_event_that_commits_after_a_later_one(services: Services) -> None:
    """The inbox_events sensor walks the inbox with a cursor, so an event must never become visible
    behind it. SQLite: a second webhook waits for the first one's commit (ids are commit order).
    Postgres: the second commits at once (workers store side by side), and the walk holds it back
    until the first, lower id's transaction ends; held too long, the operator is told."""
    store = services.store
    ledger = store.inbox
    later_row: list[int] = []

    def event(c: Any, key: str) -> int:
        row, _new = ledger.add_event_in(
            c,
            event_key=key,
            event_type="email.delivered",
            payload={"type": "email.delivered"},
            prospect_id=None,
            touch_id=None,
            provider_email_id=None,
        )
        return row

    def second_writer() -> None:
        with store.writing() as c:
            later_row.append(event(c, "svix:later"))

    postgres = store.engine.dialect.name == "postgresql"
    with store.writing() as c:
        first_row = event(c, "svix:first")
        if postgres:
            second_writer()  # commits now, with a higher id, while the first is still open
            assert later_row[0] > first_row
            assert ledger.events_after((0, 0)) == []
            held, oldest = ledger.events_held((0, 0))
            assert held == 1 and oldest is not None
            services.clock.set(services.clock.now() + HELD_GRACE + dt.timedelta(seconds=1))
            assert "1 stored event(s) wait" in (held_reason(store, (0, 0)) or "")
            assert [e.kind for e in store.escalations.open()] == ["inbox_held"]
        else:
            writer = threading.Thread(target=second_writer)
            writer.start()
            time.sleep(0.5)  # a plain sleep: timed joins misbehave under libfaketime (CI's date passes)
            assert writer.is_alive(), "the second webhook did not wait for the first one's commit"
            assert later_row == []
    if not postgres:
        writer.join()
    walked = [position for position, _prospect in ledger.events_after((0, 0))]
    assert [row for _order, row in walked] == [first_row, later_row[0]]
    assert ledger.events_held(walked[-1]) == (0, None)
    assert ledger.events_after(walked[0]) == [(walked[1], None)]


def test_receivers_storing_side_by_side_never_lose_an_event_to_the_walk(services: Services) -> None:
    """Many writers store events at once while the sensor's walk runs beside them: every event is
    walked over exactly once, whatever order the commits land in."""
    store = services.store
    ledger = store.inbox
    writers, per_writer = 6, 40
    done = threading.Event()
    seen: list[int] = []

    def walk() -> None:
        cursor = (0, 0)
        while True:
            finished = done.is_set()  # read before the walk: the last pass sees every commit
            for position, _prospect in ledger.events_after(cursor, limit=7):
                seen.append(position[1])
                cursor = position
            if finished and not ledger.events_after(cursor):
                return

    def store_events(writer: int) -> None:
        for n in range(per_writer):
            serialized_write(
                store,
                lambda c, n=n: ledger.add_event_in(
                    c,
                    event_key=f"svix:{writer}:{n}",
                    event_type="email.delivered",
                    payload={"type": "email.delivered"},
                    prospect_id=None,
                    touch_id=None,
                    provider_email_id=None,
                ),
            )

    walker = threading.Thread(target=walk)
    walker.start()
    at_once(writers, store_events)
    done.set()
    walker.join()
    assert sorted(seen) == sorted(set(seen)) and len(seen) == writers * per_writer


def test_a_cursor_from_another_server_restarts_the_walk_instead_of_skipping_new_events(
    services: Services,
) -> None:
    """A store restored into another Postgres server: its transaction ids start elsewhere, so a cursor
    saved on the old one could sort every new event behind it. The walk starts again (told to the
    operator); SQLite has no such ids and keeps its cursor."""
    store = services.store
    for key in ("svix:a", "svix:b"):
        store.inbox.add_event(
            event_key=key,
            event_type="email.delivered",
            payload={"type": "email.delivered"},
            prospect_id=None,
            touch_id=None,
            provider_email_id=None,
        )
    walked = store.inbox.events_after((0, 0))
    assert len(walked) == 2
    assert restarted_if_restored(store, walked[-1][0]) == walked[-1][0]  # this server's own cursor
    foreign = (10**15, walked[-1][0][1])  # a transaction id this server is far from reaching
    if store.engine.dialect.name == "postgresql":
        assert store.inbox.events_after(foreign) == []  # what would happen: nothing new, ever
        assert restarted_if_restored(store, foreign) == (0, 0)
        assert [row for (_order, row), _p in store.inbox.events_after((0, 0))] == [
            row for (_order, row), _p in walked
        ]
        [told] = store.escalations.open()
        assert told.kind == "inbox_held" and "restored into another server" in told.detail
    else:
        assert restarted_if_restored(store, foreign) == foreign and store.escalations.open() == []

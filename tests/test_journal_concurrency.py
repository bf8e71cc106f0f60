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
from gtm_pipeline.domain.clock import FixedClock
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


def test_an_inbox_row_never_becomes_visible_before_a_lower_one(services: Services) -> None:
    """The inbox_events sensor's cursor is an inbox row id: a webhook stored in one transaction
    makes a second one (another worker's) wait for its commit, so a reply is never passed over."""
    store = services.store
    later_row: list[int] = []

    def event(c: Any, key: str) -> int:
        row, _new = store.ledger.add_event_in(
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

    with store.writing() as c:
        first_row = event(c, "svix:first")
        writer = threading.Thread(target=second_writer)
        writer.start()
        time.sleep(0.5)  # a plain sleep: timed joins misbehave under libfaketime (CI's date passes)
        assert writer.is_alive(), "the second webhook did not wait for the first one's commit"
        assert later_row == []
    writer.join()
    assert later_row and later_row[0] > first_row

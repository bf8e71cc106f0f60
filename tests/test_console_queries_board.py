"""The console's board at scale (issue 16, item 6): its pages are picked from an index (a deferred
join, OFFSET walking index entries only) and must list exactly what the plain ordered query lists;
its counts, total and hypotheses come from the counts pass and a loose index scan; and on SQLite no
statement the board page runs reads the prospects or the journal row by row."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from gtm_pipeline.console import queries
from gtm_pipeline.domain.clock import ManualClock
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.store import Store
from gtm_pipeline.store import schema as t
from tests.conftest import TEST_START

SLUGS = ("h-alpha", "h-beta", "h-gamma")
STATES = ("qualified", "not_a_fit", "researching", "awaiting_review")
BOARD_INDEXES = {
    "ix_prospects_state_since",
    "ix_prospects_since",
    "ix_prospects_hypothesis_since",
    "ix_prospects_hypothesis_state",
    "ix_journal_kind_created",
}


def _fill(store: Store, n: int) -> list[dict[str, Any]]:
    """``n`` prospects over three hypotheses and four states, their state changes on few distinct
    moments (many ties, so the order's tie-break by id is exercised), some with a draft of a group."""
    rng = random.Random(16)
    prospects: list[dict[str, Any]] = []
    drafts: list[dict[str, Any]] = []
    for i in range(n):
        pid = f"p_{i:06d}"
        since = TEST_START - dt.timedelta(days=rng.choice([0, 1, 5, 12, 40, 41, 90]))
        prospects.append(
            {
                "id": pid,
                "hypothesis_slug": SLUGS[rng.randrange(len(SLUGS))],
                "company_domain": f"company-{i}.example",
                "company_name": f"Company {i}",
                "state": STATES[rng.randrange(len(STATES))],
                "state_since": since,
                "discovered_at": since - dt.timedelta(days=1),
            }
        )
        if i % 7 == 0:
            group = "writing-copilot" if i % 2 else "writing-dark-factory"
            drafts.append(
                {
                    "id": f"a_{i:06d}",
                    "prospect_id": pid,
                    "kind": "draft",
                    "content_hash": "0" * 64,
                    "meta": {"group": group},
                    "created_at": since,
                }
            )
    with store.writing() as c:
        c.execute(t.prospects.insert(), prospects)
        c.execute(t.artifacts.insert(), drafts)
    for p, d in zip(prospects[::7], drafts, strict=True):
        p["group"] = d["meta"]["group"]
    return prospects


FILTERS: list[dict[str, Any]] = [
    {},
    {"state": "qualified"},
    {"hypothesis": "h-beta"},
    {"hypothesis": "h-beta", "state": "not_a_fit"},
    {"min_age_days": 10},
    {"min_age_days": 10, "state": "researching"},
    {"min_age_days": 10, "hypothesis": "h-gamma", "state": "qualified"},
    {"group": "writing-copilot"},
    {"group": "writing-dark-factory", "hypothesis": "h-alpha"},
    {"state": "replied"},  # no prospect in it
    {"hypothesis": "nope"},
]


def _expected(prospects: list[dict[str, Any]], filters: dict[str, Any]) -> list[dict[str, Any]]:
    """The board's rows computed in Python: filtered, newest state change first, then by id."""
    cutoff = TEST_START - dt.timedelta(days=filters.get("min_age_days") or 0)
    kept = [
        p
        for p in prospects
        if filters.get("hypothesis") in (None, p["hypothesis_slug"])
        and filters.get("state") in (None, p["state"])
        and filters.get("group") in (None, p.get("group"))
        and (not filters.get("min_age_days") or p["state_since"] <= cutoff)
    ]
    return sorted(kept, key=lambda p: (-p["state_since"].timestamp(), p["id"]))


def test_every_page_lists_exactly_the_filtered_prospects_in_order(services: Services) -> None:
    store = services.store
    prospects = _fill(store, 537)
    for filters in FILTERS:
        expected = _expected(prospects, filters)
        first = queries.board(store, now=TEST_START, **filters)
        assert first.total == len(expected), filters
        assert first.pages == max(1, -(-len(expected) // queries.PAGE_SIZE))
        listed: list[str] = []
        for page in range(1, first.pages + 1):
            shown = queries.board(store, now=TEST_START, page=page, **filters)
            assert (shown.total, shown.pages, shown.page) == (first.total, first.pages, page)
            assert len(shown.rows) == min(queries.PAGE_SIZE, len(expected) - (page - 1) * queries.PAGE_SIZE)
            listed += [row["id"] for row in shown.rows]
        assert listed == [p["id"] for p in expected], filters
        beyond = queries.board(store, now=TEST_START, page=first.pages + 1, **filters)
        assert beyond.rows == [] and beyond.total == first.total

        # Counts are by state under every filter but the state; the total is the chosen state's.
        unstated = _expected(prospects, {k: v for k, v in filters.items() if k != "state"})
        by_state: dict[str, int] = {}
        for p in unstated:
            by_state[p["state"]] = by_state.get(p["state"], 0) + 1
        assert first.counts == by_state, filters
        assert first.hypotheses == sorted({p["hypothesis_slug"] for p in prospects})


def test_the_board_reads_the_same_row_fields_as_before(services: Services) -> None:
    prospects = _fill(services.store, 60)
    newest = _expected(prospects, {})[0]
    row = queries.board(services.store, now=TEST_START).rows[0]
    assert set(row) == {"id", "company_name", "hypothesis_slug", "state", "state_since"}
    assert (row["id"], row["company_name"], row["state"]) == (
        newest["id"],
        newest["company_name"],
        newest["state"],
    )
    assert row["state_since"].replace(tzinfo=dt.UTC) == newest["state_since"]


def test_the_migration_creates_the_board_indexes_schema_declares(services: Services) -> None:
    """schema.py and migration 0018 in step: the same names on the same columns, in order."""
    declared = {
        index.name: [column.name for column in index.columns]
        for table in (t.prospects, t.journal)
        for index in table.indexes
        if index.name in BOARD_INDEXES
    }
    assert set(declared) == BOARD_INDEXES
    inspector = sa.inspect(services.store.engine)
    made = {
        index["name"]: index["column_names"]
        for table in ("prospects", "journal")
        for index in inspector.get_indexes(table)
        if index["name"] in BOARD_INDEXES
    }
    assert made == declared


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """A store on SQLite whatever the run's backend: the plans below are SQLite's planner's."""
    store = Store.open(f"sqlite:///{tmp_path / 'board.db'}", clock=ManualClock(TEST_START))
    yield store
    store.close()


def _statements(store: Store, read: Any) -> tuple[Any, list[tuple[str, Any]]]:
    """What ``read()`` returns, and every SELECT it sent to the database, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def capture(_c: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append((statement, parameters))

    sa.event.listen(store.engine, "before_cursor_execute", capture)
    try:
        value = read()
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", capture)
    return value, seen


def test_no_statement_of_the_board_reads_prospects_or_journal_row_by_row(sqlite_store: Store) -> None:
    """Each page is found in an index: a table is only searched (a key or a range) or its covering
    index scanned, never scanned row by row nor sorted whole; the page's ids come from a covering
    board index. Before migration 0018 the page was ``SCAN prospects`` then a sort of every row,
    and the week's refusals a ``SCAN journal``."""
    _fill(sqlite_store, 300)
    with sqlite_store.writing() as c:  # the week's refusals, read by the board's inputs panel
        c.execute(
            t.journal.insert(),
            [
                {
                    "entry_id": f"j_{i}",
                    "subject": f"p_{i:06d}",
                    "seq": 1,
                    "kind": "fetch_refused",
                    "actor": "fetch",
                    "payload": {"reason": "robots"},
                    "payload_hash": "0" * 64,
                    "prev_hash": "0" * 64,
                    "entry_hash": "0" * 64,
                    "created_at": TEST_START,
                }
                for i in range(20)
            ],
        )
    for filters in FILTERS:
        for page in (1, 3):
            (shown, _inputs), statements = _statements(
                sqlite_store,
                lambda f=filters, n=page: (
                    queries.board(sqlite_store, now=TEST_START, page=n, **f),
                    queries.inputs(sqlite_store),
                ),
            )
            pages = journal_kinds = 0
            for statement, parameters in statements:
                with sqlite_store.reading() as c:
                    plan = [
                        str(r[3]) for r in c.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
                    ]
                for line in plan:
                    if line.startswith(("SCAN prospects", "SCAN journal")):
                        assert "USING COVERING INDEX" in line, (filters, statement, plan)
                if "LIMIT" in statement and "FROM prospects" in statement:
                    pages += 1
                    if "group" in filters:  # the ids of the group's drafts, each found by its key
                        assert any(line.startswith("SEARCH prospects") and "(id=?)" in line for line in plan)
                    else:  # the page's ids from a covering board index; only its 50 rows sorted
                        assert any("COVERING INDEX ix_prospects_" in line for line in plan), plan
                        assert plan.count("USE TEMP B-TREE FOR ORDER BY") <= 1, plan
                if "FROM journal" in statement and "kind IN" in statement:
                    journal_kinds += 1
                    assert any("ix_journal_kind_created" in line for line in plan), plan
            assert pages == (1 if shown.rows else 0), filters  # no page read when it is empty
            assert journal_kinds == 2, "the week's fetch refusals and discovery's rejections"

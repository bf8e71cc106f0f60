"""Replay: the journal is the source of truth, and any edit after the fact is caught."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from gtm_pipeline.domain.ids import prospect_id
from gtm_pipeline.pipeline.audit import Anchor, journal_anchor, replay_check
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.store import schema as t
from tests.corpus import expected
from tests.helpers import run_all, send_first_touch

PID = prospect_id("carepoint-clinics.example")


def _sql(services: Services, statement: sa.Executable) -> None:
    with services.store.engine.begin() as c:
        c.execute(statement)


def test_replay_of_the_pipeline_matches_the_store(services: Services) -> None:
    run_all(services)
    send_first_touch(services, PID, dt.datetime(2026, 11, 25, 10, tzinfo=dt.UTC))
    report = replay_check(services.store)
    assert report.ok, [str(p) for p in report.problems]
    assert report.prospects == expected().prospects and report.entries > 100


def test_an_edited_payload_is_named_with_its_prospect_and_entry(services: Services) -> None:
    run_all(services)
    entry = next(e for e in services.store.journal.entries(PID) if e.kind == "skill_result")
    forged = {**entry.payload, "input_hash": "0" * 64}
    _sql(services, sa.update(t.journal).where(t.journal.c.entry_id == entry.entry_id).values(payload=forged))
    problems = [str(p) for p in replay_check(services.store).problems]
    assert problems == [f"{PID} entry {entry.entry_id}: payload was edited after it was written"]


def test_a_deleted_entry_breaks_the_chain(services: Services) -> None:
    run_all(services)
    second = services.store.journal.entries(PID)[1]
    _sql(services, sa.delete(t.journal).where(t.journal.c.entry_id == second.entry_id))
    messages = [p.message for p in replay_check(services.store).problems]
    assert any("does not link" in m for m in messages)
    assert any("sequence" in m for m in messages)


def test_a_stored_state_that_the_journal_does_not_support_is_reported(services: Services) -> None:
    run_all(services)
    _sql(services, sa.update(t.prospects).where(t.prospects.c.id == PID).values(state="scheduled"))
    problems = replay_check(services.store).problems
    assert len(problems) == 1 and problems[0].prospect_id == PID
    assert "stored state scheduled, journal gives awaiting_review" in problems[0].message


def test_a_rewritten_chain_is_caught_by_the_dagster_anchor(services: Services) -> None:
    run_all(services)
    head = services.store.journal.head(PID)
    assert head is not None
    anchor = journal_anchor(head)
    # Rewriting an entry's hash consistently would fool the chain alone, not the anchor.
    _sql(
        services,
        sa.update(t.journal).where(t.journal.c.entry_id == head.entry_id).values(entry_hash="f" * 64),
    )
    anchors = {PID: Anchor(anchor["head_seq"], anchor["head_hash"])}
    messages = [p.message for p in replay_check(services.store, anchors).problems]
    assert any("differs from the anchored head" in m for m in messages)

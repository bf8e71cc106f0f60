"""The README's run path through the CLI on the backend the run asked for: ``gtm demo`` (twice),
``status``, ``replay --check`` and ``rehearse``. In the Postgres pass (GTM_TEST_POSTGRES) the store is
a fresh Postgres database (GTM_DATABASE_URL) and Dagster's instance is on dagster-postgres with the
deployment's settings (deploy/dagster.yaml, installed under GTM_HOME/dagster); elsewhere both are
SQLite. Either way the outcomes are the ones the sample corpus was built to show (tests/corpus.py)
and the rehearsal ends each behaviour in the state it does on SQLite (tests/test_outreach.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from gtm_pipeline.defs.partitions import PROSPECTS
from gtm_pipeline.orchestrate import journal_anchors
from gtm_pipeline.sources.corpus import SampleCorpus
from gtm_pipeline.store import Store
from tests.conftest import POSTGRES_SERVER_ENV, REPO, STARTER, postgres_dagster_home
from tests.corpus import expected

REHEARSED = {  # behaviour -> the state a rehearsal ends it in (as test_outreach asserts in process)
    "silent": "awaiting_reply",
    "interested": "replied",
    "question": "replied",
    "not-now": "not_now",
    "not-a-fit": "not_a_fit",
    "unsubscribe": "do_not_contact",
    "referral": "replied",
    "ooo": "awaiting_reply",
    "bounce": "unreachable",
    "soft-bounce": "awaiting_reply",
    "complain": "do_not_contact",
}


def _gtm(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI as an operator runs it: GTM_HOME, and GTM_DATABASE_URL when the run set one."""
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env["GTM_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "gtm_pipeline.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _personal() -> list[bytes]:
    """Each sample contact's address and full name (a three-letter local part such as "ben" would
    match inside any word or binary page of Dagster's files)."""
    forms: list[bytes] = []
    for candidate in SampleCorpus(STARTER / "corpus").candidates():
        if candidate.contact:
            forms += [candidate.contact.email.encode(), candidate.contact.name.encode()]
    return forms


def _dagster_holdings(instance: dg.DagsterInstance, home: Path) -> list[bytes]:
    """Everything Dagster stored: every row of its Postgres database, or its files under home."""
    if not hasattr(instance.run_storage, "postgres_url"):
        return [p.read_bytes() for p in (home / "dagster").rglob("*") if p.is_file()]
    url = sa.engine.make_url(instance.run_storage.postgres_url).set(drivername="postgresql+psycopg")
    engine = sa.create_engine(url)
    try:
        with engine.connect() as c:
            tables = c.execute(
                sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
            ).scalars()
            return [
                "\n".join(
                    str(r) for r in c.execute(sa.text(f'SELECT t::text FROM "{name}" t')).scalars()
                ).encode()
                for name in list(tables)
            ]
    finally:
        engine.dispose()


def test_demo_replay_and_rehearsal_through_the_cli_on_the_backend_the_run_asked_for(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    home = tmp_path / "home"
    server = os.environ.get(POSTGRES_SERVER_ENV)
    if server:  # the deployment's instance, on a database of its own; `gtm` keeps a dagster.yaml it finds
        postgres_dagster_home(server, home / "dagster", request)
    url = os.environ.get("GTM_DATABASE_URL") or f"sqlite:///{home / 'gtm.sqlite'}"
    assert url.startswith("postgresql") == bool(server)

    first = _gtm(home, "demo")
    assert first.returncode == 0, first.stderr[-3000:]
    corpus = expected()
    assert f"prospects found     {corpus.prospects}" in first.stdout
    assert f"waiting for review  {corpus.qualified}" in first.stdout
    assert f"dead-lettered       {corpus.dead_lettered}" in first.stdout
    store = Store.open(url)
    assert store.engine.dialect.name == ("postgresql" if server else "sqlite")
    ids, counts = [p.id for p in store.prospects.find()], store.table_counts()
    store.close()

    second = _gtm(home, "demo")  # idempotent: nothing new, nothing twice
    assert second.returncode == 0, second.stderr[-3000:]
    store = Store.open(url)
    assert [p.id for p in store.prospects.find()] == ids and store.table_counts() == counts
    digest = store.content_digest()
    store.close()

    status = _gtm(home, "status", "--json")
    assert status.returncode == 0, status.stderr[-2000:]
    data = json.loads(status.stdout)
    assert data["summary"]["by_state"] == corpus.by_state
    assert len(data["waiting"]["reviews"]) == corpus.qualified

    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        if server:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        runs = instance.get_runs()
        assert len(runs) == 4 and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)  # 2 per demo
        assert sorted(instance.get_dynamic_partitions(PROSPECTS)) == sorted(ids)
        assert set(journal_anchors(instance)) == set(ids)  # every prospect's head anchored in Dagster
        personal = _personal()
        for held in _dagster_holdings(instance, home):
            assert not [p for p in personal if p in held]  # no contact's name or address in Dagster

    assert _gtm(home, "replay", "--check").returncode == 0  # chains whole, states and anchors agree
    store = Store.open(url)
    victim = next(p.id for p in store.prospects.find() if p.state.value == "awaiting_review")
    with store.engine.begin() as c:  # behind the store's back
        c.execute(sa.text("UPDATE prospects SET state = 'approved' WHERE id = :id"), {"id": victim})
    broken = _gtm(home, "replay", "--check")
    assert broken.returncode == 1 and f"MISMATCH {victim}" in broken.stdout
    with store.engine.begin() as c:
        c.execute(sa.text("UPDATE prospects SET state = 'awaiting_review' WHERE id = :id"), {"id": victim})
    store.close()

    rehearsal = _gtm(home, "rehearse", "--json")
    assert rehearsal.returncode == 0, rehearsal.stderr[-3000:]
    report = json.loads(rehearsal.stdout)
    assert len(report["behaviours"]) == corpus.qualified and report["max_sends_per_touch"] == 1
    after_meetings = {  # the campaign goes on to meetings, a deal won in the CRM twin, a cancellation
        "calcom:booked,held": "won",
        "calendly:booked": "meeting_booked",
        "calcom:booked,cancelled": "replied",
    }
    for pid, behaviour in report["behaviours"].items():
        done = report["meetings"].get(pid)
        ends_in = after_meetings[done] if done else REHEARSED[behaviour]
        assert report["states"][pid] == ends_in, (pid, behaviour, done)
    assert report["won"] and report["crm_companies"]
    store = Store.open(url)
    assert store.content_digest() == digest  # the rehearsal only read the operator's store
    store.close()

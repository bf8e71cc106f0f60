from __future__ import annotations

import itertools
import multiprocessing
from pathlib import Path

import sqlalchemy as sa

from gtm_pipeline.domain.journal import GENESIS_HASH, entry_hash
from gtm_pipeline.store import NewProspect, Store
from gtm_pipeline.store.engine import current_revision, schema_head

PID = "p_" + "a" * 20


def _open(path: Path) -> Store:
    return Store.open(f"sqlite:///{path}")


def test_migrations_bring_an_empty_database_to_head_and_are_idempotent(tmp_path: Path) -> None:
    db = tmp_path / "gtm.sqlite"
    store = _open(db)
    assert current_revision(store.engine) == schema_head()
    store.close()
    again = _open(db)  # a second open is a no-op
    assert current_revision(again.engine) == schema_head()
    with again.engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        tables = set(sa.inspect(c).get_table_names())
    assert {"prospects", "artifacts", "journal", "review_queue", "dead_letters", "hypotheses"} <= tables
    again.close()


def test_prospects_and_artifacts_are_idempotent(tmp_path: Path) -> None:
    store = _open(tmp_path / "gtm.sqlite")
    new = NewProspect(PID, "h", "acme.example", "Acme")
    assert store.prospects.add(new, actor="test", payload={})
    assert not store.prospects.add(new, actor="test", payload={})
    first = store.artifacts.add(prospect_id=PID, kind="raw_source", content="hello", source_id="s1")
    second = store.artifacts.add(prospect_id=PID, kind="raw_source", content="hello", source_id="s1")
    assert first[1] and not second[1] and first[0] == second[0]
    assert store.table_counts()["artifacts"] == 1
    assert len(store.journal.entries(PID)) == 1
    store.close()


def test_journal_entries_form_a_verifiable_hash_chain(tmp_path: Path) -> None:
    store = _open(tmp_path / "gtm.sqlite")
    for i in range(3):
        store.journal.append(subject=PID, kind="note", actor="test", payload={"i": i})
    entries = store.journal.entries(PID)
    assert [e.seq for e in entries] == [1, 2, 3]
    prev = GENESIS_HASH
    for entry in entries:
        assert entry.prev_hash == prev
        recomputed = entry_hash(
            subject=entry.subject,
            seq=entry.seq,
            kind=entry.kind,
            actor=entry.actor,
            payload_digest=entry.payload_hash,
            prev_hash=entry.prev_hash,
            created_at=entry.created_at,
        )
        assert recomputed == entry.entry_hash
        prev = entry.entry_hash
    assert store.journal.append(
        subject=PID, kind="n", actor="t", payload={}, dedupe_key="k"
    ) == store.journal.append(subject=PID, kind="n", actor="t", payload={"other": 1}, dedupe_key="k")
    store.close()


def _writer(db: str, worker: int, count: int, artifacts: bool = True) -> None:
    store = Store.open(f"sqlite:///{db}")
    for i in range(count):
        store.journal.append(subject=PID, kind="note", actor=f"worker-{worker}", payload={"i": i})
        if artifacts:
            store.artifacts.add(
                prospect_id=PID, kind="raw_source", content=f"{worker}-{i}", source_id=f"s{worker}-{i}"
            )
    store.close()


def test_two_processes_writing_at_once_lose_nothing_and_never_fork_the_chain(tmp_path: Path) -> None:
    db = tmp_path / "gtm.sqlite"
    store = _open(db)
    store.prospects.add(NewProspect(PID, "h", "acme.example", "Acme"), actor="test", payload={})
    store.close()
    count = 150
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_writer, args=(str(db), w, count)) for w in (1, 2)]
    for proc in workers:
        proc.start()
    for proc in workers:
        proc.join(timeout=120)
        assert proc.exitcode == 0
    store = _open(db)
    entries = store.journal.entries(PID)
    assert [e.seq for e in entries] == list(range(1, 2 * count + 2))
    assert all(b.prev_hash == a.entry_hash for a, b in itertools.pairwise(entries))
    assert {e.actor for e in entries} == {"test", "worker-1", "worker-2"}
    assert store.table_counts()["artifacts"] == 2 * count
    store.close()


def test_two_processes_migrating_an_empty_database_at_once(tmp_path: Path) -> None:
    db = tmp_path / "fresh.sqlite"
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_writer, args=(str(db), w, 5, False)) for w in (1, 2)]
    # both processes open (and migrate) the same new file, then write journal entries
    for proc in workers:
        proc.start()
    for proc in workers:
        proc.join(timeout=120)
        assert proc.exitcode == 0
    store = _open(db)
    assert current_revision(store.engine) == schema_head()
    assert len(store.journal.entries(PID)) == 10
    store.close()

"""The journal: append-only, hash-chained per subject, the source of truth and the audit trail.

Every write elsewhere that changes what happened appends here in the same transaction
(``append_in``), so a decision and its record commit together or not at all.

Journal writers take turns, on both backends, for two reasons:

* an append reads the subject's head and writes the next link, so two appends to one subject
  must not interleave (they would collide on ``seq`` or on a ``dedupe_key``);
* the sensors' cursors are journal row ids (``prospects.state_entry``): a cursor that has passed
  row N must never see a row below N commit later. Postgres hands out ids from a sequence before
  commit, so without turns a transaction holding id 100 could commit after one holding 101 had
  been read, and the prospect at row 100 would never be researched or answered.

On SQLite every write transaction already holds the database's write lock (``BEGIN IMMEDIATE``).
On Postgres the first append of a transaction takes one transaction-scoped advisory lock, held
to commit: journal rows become visible in id order, as on SQLite. (A lock per subject, tried
first, kept chains whole but not the order; one lock is also free of lock-order deadlocks.)
Transactions that write no journal entry (the webhook receiver's inbox rows) never wait for it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from gtm_pipeline.domain.journal import GENESIS_HASH, entry_hash, payload_hash
from gtm_pipeline.store import schema as t
from gtm_pipeline.store.records import JournalRecord, journal_record

if TYPE_CHECKING:
    from gtm_pipeline.store.unit import Store


# A stable signed 64-bit key (Postgres' ``bigint``) for the journal writers' advisory lock.
JOURNAL_LOCK_KEY = int.from_bytes(hashlib.sha256(b"gtm-journal-order").digest()[:8], "big", signed=True)


def lock_journal(c: sa.Connection) -> None:
    """Take the journal writers' turn until this transaction ends (Postgres; re-entrant within the
    transaction; SQLite's write transaction already excludes every other writer)."""
    if c.dialect.name == "postgresql":
        c.execute(sa.select(sa.func.pg_advisory_xact_lock(JOURNAL_LOCK_KEY)))


class Journal:
    """Appending entries and reading them back."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def append(
        self,
        *,
        subject: str,
        kind: str,
        actor: str,
        payload: dict[str, Any],
        dedupe_key: str | None = None,
        run_id: str | None = None,
    ) -> str:
        """Append an entry (or return the existing one with the same ``dedupe_key``)."""
        with self.store.writing() as c:
            return self.append_in(
                c,
                subject=subject,
                kind=kind,
                actor=actor,
                payload=payload,
                dedupe_key=dedupe_key,
                run_id=run_id,
                now=self.store.now(),
            )

    def append_in(
        self,
        c: sa.Connection,
        *,
        subject: str,
        kind: str,
        actor: str,
        payload: dict[str, Any],
        now: dt.datetime,
        dedupe_key: str | None = None,
        run_id: str | None = None,
    ) -> str:
        """Append a hash-chained entry in the caller's transaction; returns its entry id."""
        return self.append_row_in(
            c,
            subject=subject,
            kind=kind,
            actor=actor,
            payload=payload,
            now=now,
            dedupe_key=dedupe_key,
            run_id=run_id,
        )[0]

    def append_row_in(
        self,
        c: sa.Connection,
        *,
        subject: str,
        kind: str,
        actor: str,
        payload: dict[str, Any],
        now: dt.datetime,
        dedupe_key: str | None = None,
        run_id: str | None = None,
    ) -> tuple[str, int]:
        """As :meth:`append_in`, returning (entry id, journal row id)."""
        lock_journal(c)
        if dedupe_key is not None:
            existing = c.execute(
                sa.select(t.journal.c.entry_id, t.journal.c.id).where(t.journal.c.dedupe_key == dedupe_key)
            ).first()
            if existing is not None:
                return str(existing.entry_id), int(existing.id)
        last = c.execute(
            sa.select(t.journal.c.seq, t.journal.c.entry_hash)
            .where(t.journal.c.subject == subject)
            .order_by(t.journal.c.seq.desc())
            .limit(1)
        ).first()
        seq = (last.seq + 1) if last else 1
        prev = last.entry_hash if last else GENESIS_HASH
        digest = payload_hash(payload)
        link = entry_hash(
            subject=subject,
            seq=seq,
            kind=kind,
            actor=actor,
            payload_digest=digest,
            prev_hash=prev,
            created_at=now,
        )
        entry_id = "j_" + link[:24]
        inserted = c.execute(
            t.journal.insert().values(
                entry_id=entry_id,
                subject=subject,
                seq=seq,
                kind=kind,
                actor=actor,
                payload=payload,
                payload_hash=digest,
                prev_hash=prev,
                entry_hash=link,
                dedupe_key=dedupe_key,
                run_id=run_id,
                created_at=now,
            )
        )
        key = inserted.inserted_primary_key
        assert key is not None
        return entry_id, int(key[0])

    def append_first_in(
        self, c: sa.Connection, entries: list[dict[str, Any]], *, now: dt.datetime
    ) -> list[tuple[str, int]]:
        """The first entry of each of many new subjects, in one statement (an import's thousands of
        ``discovered`` entries): each opens its subject's chain, so no earlier entry may exist.
        ``entries`` hold subject, kind, actor and payload; returns (entry id, row id) in order."""
        lock_journal(c)
        subjects = [e["subject"] for e in entries]
        for start in range(0, len(subjects), 500):
            chunk = subjects[start : start + 500]
            taken = c.execute(
                sa.select(t.journal.c.subject).where(t.journal.c.subject.in_(chunk)).limit(1)
            ).first()
            if taken is not None:
                raise ValueError(f"{taken.subject} already has journal entries: append to its chain instead")
        rows = []
        for entry in entries:
            digest = payload_hash(entry["payload"])
            link = entry_hash(
                subject=entry["subject"],
                seq=1,
                kind=entry["kind"],
                actor=entry["actor"],
                payload_digest=digest,
                prev_hash=GENESIS_HASH,
                created_at=now,
            )
            rows.append(
                {
                    "entry_id": "j_" + link[:24],
                    "subject": entry["subject"],
                    "seq": 1,
                    "kind": entry["kind"],
                    "actor": entry["actor"],
                    "payload": entry["payload"],
                    "payload_hash": digest,
                    "prev_hash": GENESIS_HASH,
                    "entry_hash": link,
                    "dedupe_key": None,
                    "run_id": None,
                    "created_at": now,
                }
            )
        if not rows:
            return []
        inserted = c.execute(
            t.journal.insert().returning(t.journal.c.entry_id, t.journal.c.id, sort_by_parameter_order=True),
            rows,
        )
        return [(str(r.entry_id), int(r.id)) for r in inserted]

    def entries(self, subject: str) -> list[JournalRecord]:
        query = sa.select(t.journal).where(t.journal.c.subject == subject).order_by(t.journal.c.seq)
        with self.store.reading() as c:
            return [journal_record(row) for row in c.execute(query)]

    def of_kind(self, kind: str, since: dt.datetime) -> list[JournalRecord]:
        """Entries of one kind written since a moment (e.g. today's spend-cap waits)."""
        query = (
            sa.select(t.journal)
            .where(t.journal.c.kind == kind, t.journal.c.created_at >= since)
            .order_by(t.journal.c.id)
        )
        with self.store.reading() as c:
            return [journal_record(row) for row in c.execute(query)]

    def head(self, subject: str) -> JournalRecord | None:
        entries = self.entries(subject)
        return entries[-1] if entries else None

    def subjects(self) -> list[str]:
        """Every prospect id that has journal entries."""
        query = (
            sa.select(t.journal.c.subject).distinct().where(t.journal.c.subject.like("p\\_%", escape="\\"))
        )
        with self.store.reading() as c:
            return sorted(str(r[0]) for r in c.execute(query))

    def recorded_skill_result(self, dedupe_prefix: str) -> JournalRecord | None:
        """The journaled result of an identical earlier call (same skill text, subject and input)."""
        query = (
            sa.select(t.journal)
            .where(t.journal.c.dedupe_key.like(dedupe_prefix + "%"), t.journal.c.tombstoned_at.is_(None))
            .order_by(t.journal.c.id.desc())
            .limit(1)
        )
        with self.store.reading() as c:
            row = c.execute(query).first()
        return journal_record(row) if row is not None else None

"""The store's operations. Every write is one transaction; every decision is journaled.

Steps call these methods instead of writing SQL, so the invariants live in one place:
idempotent inserts (re-running a step adds nothing), a journal entry for every state
change in the same transaction as the change, and hash-chained journal entries.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from gtm_pipeline.domain.clock import Clock, SystemClock
from gtm_pipeline.domain.contracts import Usage
from gtm_pipeline.domain.ids import content_hash, email_hash
from gtm_pipeline.domain.journal import GENESIS_HASH, entry_hash, payload_hash, redact
from gtm_pipeline.domain.states import DISQUALIFIED, TERMINAL, Decision, Event, State, transition
from gtm_pipeline.store import schema as t
from gtm_pipeline.store.engine import (
    READ_ONLY,
    compact,
    create_engine,
    current_revision,
    migrate,
    schema_head,
)

_KEPT_ARTIFACT_META = ("skill", "skill_version", "group", "input_hash", "retrieved_at")


def _utc(value: dt.datetime) -> dt.datetime:
    """SQLite returns naive datetimes; everything the store writes is UTC."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


@dataclass(frozen=True)
class ProspectRecord:
    """A prospect as stored (contact fields are ``None`` once erased)."""

    id: str
    hypothesis_slug: str
    company_domain: str
    company_name: str
    contact_name: str | None
    contact_email: str | None
    contact_role: str | None
    state: State
    state_since: dt.datetime
    discovered_at: dt.datetime
    contact_timezone: str | None = None


@dataclass(frozen=True)
class ArtifactRecord:
    """A stored artifact: a fetched source or a skill result."""

    id: str
    prospect_id: str
    kind: str
    source_id: str | None
    url: str | None
    source_kind: str | None
    published_on: dt.date | None
    content: str | None
    content_hash: str
    meta: dict[str, Any]
    journal_entry_id: str | None
    created_at: dt.datetime


@dataclass(frozen=True)
class JournalRecord:
    """One journal entry."""

    entry_id: str
    subject: str
    seq: int
    kind: str
    actor: str
    payload: dict[str, Any]
    payload_hash: str
    prev_hash: str
    entry_hash: str
    run_id: str | None
    created_at: dt.datetime
    tombstoned_at: dt.datetime | None


@dataclass(frozen=True)
class ReviewItem:
    """Something waiting for the operator."""

    id: int
    prospect_id: str
    artifact_id: str
    kind: str
    status: str
    created_at: dt.datetime


@dataclass(frozen=True)
class NewProspect:
    """What discovery knows about a prospect when it registers it."""

    id: str
    hypothesis_slug: str
    company_domain: str
    company_name: str
    contact_name: str | None = None
    contact_email: str | None = None
    contact_role: str | None = None
    contact_timezone: str | None = None


class Store:
    """Access to the system of record."""

    def __init__(self, engine: Engine, *, read_only: bool = False, clock: Clock | None = None) -> None:
        self.engine = engine
        self.read_only = read_only
        self.clock: Clock = clock or SystemClock()

    def now(self) -> dt.datetime:
        """The injected clock's time: every timestamp the store writes or compares comes from here."""
        return self.clock.now()

    @classmethod
    def open(cls, url: str, *, clock: Clock | None = None) -> Store:
        """Open (and migrate, if needed) the store at ``url``."""
        engine = create_engine(url)
        migrate(engine)
        return cls(engine, clock=clock)

    @classmethod
    def open_read_only(cls, url: str, *, clock: Clock | None = None) -> Store:
        """Open the store so that no write can happen, by construction.

        SQLite is opened with ``mode=ro`` (the database engine itself refuses writes) and no
        migration runs; every write method raises before touching the database. Dry runs
        and replays use this.
        """
        engine = create_engine(url, read_only=True)
        found, head = current_revision(engine), schema_head()
        if found != head:
            engine.dispose()
            raise RuntimeError(
                f"the store is at schema {found}, this code needs {head}: run `gtm demo` to migrate"
            )
        return cls(engine, read_only=True, clock=clock)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        if self.read_only:
            raise PermissionError("this store was opened read-only")
        with self.engine.begin() as connection:
            yield connection

    @contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        with self.engine.connect().execution_options(**READ_ONLY) as connection, connection.begin():
            yield connection

    # ------------------------------------------------------------ hypotheses

    def upsert_hypothesis(self, slug: str, title: str, version: str, digest: str) -> bool:
        """Record the hypothesis snapshot; returns True when it is new or changed."""
        now = self.now()
        with self._write() as c:
            row = c.execute(sa.select(t.hypotheses.c.content_hash).where(t.hypotheses.c.slug == slug)).first()
            if row is not None and row.content_hash == digest:
                return False
            values = {"title": title, "version": version, "content_hash": digest, "updated_at": now}
            if row is None:
                c.execute(t.hypotheses.insert().values(slug=slug, **values))
            else:
                c.execute(t.hypotheses.update().where(t.hypotheses.c.slug == slug).values(**values))
            return True

    # ------------------------------------------------------------ prospects

    def add_prospect(
        self, new: NewProspect, *, actor: str, payload: dict[str, Any], run_id: str | None = None
    ) -> bool:
        """Register a discovered prospect once; returns False when it already exists."""
        now = self.now()
        with self._write() as c:
            exists = c.execute(sa.select(t.prospects.c.id).where(t.prospects.c.id == new.id)).first()
            if exists is not None:
                return False
            c.execute(
                t.prospects.insert().values(
                    id=new.id,
                    hypothesis_slug=new.hypothesis_slug,
                    company_domain=new.company_domain,
                    company_name=new.company_name,
                    contact_name=new.contact_name,
                    contact_email=new.contact_email,
                    contact_role=new.contact_role,
                    contact_timezone=new.contact_timezone,
                    contact_email_hash=email_hash(new.contact_email) if new.contact_email else None,
                    state=State.DISCOVERED.value,
                    state_since=now,
                    discovered_at=now,
                )
            )
            _entry, row = self._append_entry(
                c,
                subject=new.id,
                kind="discovered",
                actor=actor,
                payload={**payload, "to_state": State.DISCOVERED.value},
                run_id=run_id,
                now=now,
            )
            c.execute(t.prospects.update().where(t.prospects.c.id == new.id).values(state_entry=row))
            return True

    def get_prospect(self, prospect_id: str) -> ProspectRecord | None:
        with self._read() as c:
            row = c.execute(sa.select(t.prospects).where(t.prospects.c.id == prospect_id)).first()
        return _prospect(row) if row is not None else None

    def list_prospects(
        self, *, hypothesis: str | None = None, states: Sequence[State] | None = None
    ) -> list[ProspectRecord]:
        query = sa.select(t.prospects).order_by(t.prospects.c.discovered_at, t.prospects.c.id)
        if hypothesis:
            query = query.where(t.prospects.c.hypothesis_slug == hypothesis)
        if states:
            query = query.where(t.prospects.c.state.in_([s.value for s in states]))
        with self._read() as c:
            return [_prospect(row) for row in c.execute(query)]

    def entered_state_after(self, state: State, after: int, limit: int) -> list[tuple[int, str]]:
        """(journal row, prospect id) of prospects now in ``state`` that entered it after journal row
        ``after``, oldest first: a sensor's whole cursor is the last row it handled.

        On SQLite every write transaction holds the one write lock (``BEGIN IMMEDIATE``), so rows
        become visible in id order and a cursor can never pass a row that commits later. Postgres
        hands out ids before commit, so there a cursor needs a lag window (issue 16's Postgres work).
        """
        query = (
            sa.select(t.prospects.c.state_entry, t.prospects.c.id)
            .where(t.prospects.c.state == state.value, t.prospects.c.state_entry > after)
            .order_by(t.prospects.c.state_entry)
            .limit(limit)
        )
        with self._read() as c:
            return [(int(row.state_entry), str(row.id)) for row in c.execute(query)]

    def apply_event(
        self,
        prospect_id: str,
        event: Event,
        *,
        actor: str,
        rationale: str,
        now: dt.datetime | None = None,
        details: dict[str, Any] | None = None,
        run_id: str | None = None,
    ) -> Decision:
        """Apply ``event`` through the pure transition table and journal the decision.

        The state read, the decision, the journal entry and the state update happen in one
        write transaction, so two processes can never both move the same prospect.
        A rejected event is journaled too: nothing changes silently, nothing is lost.
        """
        at = now or self.now()
        with self._write() as c:
            return self._apply(c, prospect_id, event, actor, rationale, at, details, run_id)

    def _apply(
        self,
        c: sa.Connection,
        prospect_id: str,
        event: Event,
        actor: str,
        rationale: str,
        at: dt.datetime,
        details: dict[str, Any] | None,
        run_id: str | None,
    ) -> Decision:
        row = c.execute(sa.select(t.prospects.c.state).where(t.prospects.c.id == prospect_id)).first()
        if row is None:
            raise KeyError(f"unknown prospect {prospect_id}")
        decision = transition(State(row.state), event, at)
        payload = {
            **(details or {}),
            "event": event.value,
            "from_state": decision.from_state.value,
            "to_state": decision.to_state.value,
            "allowed": decision.allowed,
            "rationale": rationale,
            "reason": decision.reason,
        }
        kind = "transition" if decision.allowed else "transition_rejected"
        _entry, entry_row = self._append_entry(
            c, subject=prospect_id, kind=kind, actor=actor, payload=payload, run_id=run_id, now=at
        )
        if decision.allowed and decision.to_state != decision.from_state:
            c.execute(
                t.prospects.update()
                .where(t.prospects.c.id == prospect_id)
                .values(state=decision.to_state.value, state_since=at, state_entry=entry_row)
            )
            if decision.to_state in DISQUALIFIED | TERMINAL:
                # Nothing of a stopped prospect may still wait for approval (and so for sending).
                c.execute(
                    t.review_queue.update()
                    .where(t.review_queue.c.prospect_id == prospect_id, t.review_queue.c.status == "pending")
                    .values(status="withdrawn", decided_at=at, decided_by=actor)
                )
        return decision

    def decide_review(
        self,
        review_id: int,
        *,
        approve: bool,
        actor: str,
        reason: str,
        now: dt.datetime | None = None,
        artifact_override: str | None = None,
    ) -> Decision:
        """An operator's approval or rejection: the review item, the transition and the journal, at once.

        ``artifact_override`` is the operator's edited version of the draft: the approval then
        names it, so the send step sends the edit (the review item keeps the skill's original).
        """
        at = now or self.now()
        with self._write() as c:
            item = c.execute(sa.select(t.review_queue).where(t.review_queue.c.id == review_id)).first()
            if item is None:
                raise KeyError(f"no review item #{review_id}")
            if item.status != "pending":
                raise ValueError(f"review item #{review_id} is {item.status}, not pending")
            if approve:
                meta = c.execute(
                    sa.select(t.artifacts.c.meta).where(t.artifacts.c.id == item.artifact_id)
                ).scalar()
                if (meta or {}).get("blocked"):
                    raise ValueError(
                        f"review item #{review_id} breaks the output policy: it can never be approved"
                    )
            event = Event.DRAFT_APPROVED if approve else Event.DRAFT_REJECTED
            details = {"review_id": review_id, "artifact_id": artifact_override or item.artifact_id}
            if artifact_override:
                details["reviewed_artifact"] = item.artifact_id
            decision = self._apply(c, item.prospect_id, event, actor, reason, at, details, None)
            if decision.allowed:
                c.execute(
                    t.review_queue.update()
                    .where(t.review_queue.c.id == review_id)
                    .values(
                        status="approved" if approve else "rejected",
                        decided_at=at,
                        decided_by=actor,
                        reason=reason,
                    )
                )
            return decision

    # ------------------------------------------------------------ artifacts

    def add_artifact(
        self,
        *,
        prospect_id: str,
        kind: str,
        content: str,
        meta: dict[str, Any] | None = None,
        source_id: str | None = None,
        url: str | None = None,
        source_kind: str | None = None,
        published_on: dt.date | None = None,
        journal_entry_id: str | None = None,
        run_id: str | None = None,
    ) -> tuple[str, bool]:
        """Store an artifact once per (prospect, kind, source, content); returns (id, created)."""
        digest = content_hash(content)
        artifact_id = "a_" + content_hash(f"{prospect_id}|{kind}|{source_id or ''}|{digest}")[:32]
        with self._write() as c:
            if c.execute(sa.select(t.artifacts.c.id).where(t.artifacts.c.id == artifact_id)).first():
                return artifact_id, False
            c.execute(
                t.artifacts.insert().values(
                    id=artifact_id,
                    prospect_id=prospect_id,
                    kind=kind,
                    source_id=source_id,
                    url=url,
                    source_kind=source_kind,
                    published_on=published_on,
                    content=content,
                    content_hash=digest,
                    meta=meta or {},
                    journal_entry_id=journal_entry_id,
                    run_id=run_id,
                    created_at=self.now(),
                )
            )
            return artifact_id, True

    def artifacts(self, prospect_id: str, kind: str) -> list[ArtifactRecord]:
        query = (
            sa.select(t.artifacts)
            .where(t.artifacts.c.prospect_id == prospect_id, t.artifacts.c.kind == kind)
            .order_by(t.artifacts.c.created_at, t.artifacts.c.id)
        )
        with self._read() as c:
            return [_artifact(row) for row in c.execute(query)]

    def latest_artifact(self, prospect_id: str, kind: str) -> ArtifactRecord | None:
        found = self.artifacts(prospect_id, kind)
        return found[-1] if found else None

    def get_artifact(self, artifact_id: str) -> ArtifactRecord | None:
        with self._read() as c:
            row = c.execute(sa.select(t.artifacts).where(t.artifacts.c.id == artifact_id)).first()
        return _artifact(row) if row is not None else None

    # ------------------------------------------------------------ journal

    def append_journal(
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
        with self._write() as c:
            return self._append(
                c,
                subject=subject,
                kind=kind,
                actor=actor,
                payload=payload,
                dedupe_key=dedupe_key,
                run_id=run_id,
                now=self.now(),
            )

    def _append(
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
        return self._append_entry(
            c,
            subject=subject,
            kind=kind,
            actor=actor,
            payload=payload,
            now=now,
            dedupe_key=dedupe_key,
            run_id=run_id,
        )[0]

    def _append_entry(
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
        """As :meth:`_append`, returning (entry id, journal row id)."""
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

    def journal(self, subject: str) -> list[JournalRecord]:
        query = sa.select(t.journal).where(t.journal.c.subject == subject).order_by(t.journal.c.seq)
        with self._read() as c:
            return [_journal(row) for row in c.execute(query)]

    def journal_of_kind(self, kind: str, since: dt.datetime) -> list[JournalRecord]:
        """Entries of one kind written since a moment (e.g. today's spend-cap waits)."""
        query = (
            sa.select(t.journal)
            .where(t.journal.c.kind == kind, t.journal.c.created_at >= since)
            .order_by(t.journal.c.id)
        )
        with self._read() as c:
            return [_journal(row) for row in c.execute(query)]

    def journal_head(self, subject: str) -> JournalRecord | None:
        entries = self.journal(subject)
        return entries[-1] if entries else None

    # ------------------------------------------------------------ review queue and dead letters

    def enqueue_review(self, *, prospect_id: str, artifact_id: str, kind: str) -> bool:
        """Put an artifact in front of the operator once; returns False if already queued."""
        with self._write() as c:
            found = c.execute(
                sa.select(t.review_queue.c.id).where(t.review_queue.c.artifact_id == artifact_id)
            ).first()
            if found is not None:
                return False
            c.execute(
                t.review_queue.insert().values(
                    prospect_id=prospect_id,
                    artifact_id=artifact_id,
                    kind=kind,
                    status="pending",
                    created_at=self.now(),
                )
            )
            return True

    def close_audit_sample(self, review_id: int, *, ok: bool, actor: str, reason: str) -> None:
        """An after-the-fact audit of a dark-factory output: recorded, no state change (it already acted)."""
        now = self.now()
        with self._write() as c:
            item = c.execute(sa.select(t.review_queue).where(t.review_queue.c.id == review_id)).first()
            if item is None or item.kind != "audit_sample" or item.status != "pending":
                raise ValueError(f"review item #{review_id} is not a pending audit sample")
            c.execute(
                t.review_queue.update()
                .where(t.review_queue.c.id == review_id)
                .values(
                    status="approved" if ok else "rejected", decided_at=now, decided_by=actor, reason=reason
                )
            )
            self._append(
                c,
                subject=item.prospect_id,
                kind="audit_reviewed",
                actor=actor,
                payload={"review_id": review_id, "artifact_id": item.artifact_id, "ok": ok, "reason": reason},
                now=now,
            )

    def review_item(self, review_id: int) -> ReviewItem | None:
        with self._read() as c:
            row = c.execute(sa.select(t.review_queue).where(t.review_queue.c.id == review_id)).first()
        return _record(ReviewItem, row) if row is not None else None

    def pending_reviews(self) -> list[ReviewItem]:
        query = (
            sa.select(t.review_queue)
            .where(t.review_queue.c.status == "pending")
            .order_by(t.review_queue.c.id)
        )
        with self._read() as c:
            return [_record(ReviewItem, row) for row in c.execute(query)]

    def record_dead_letter(
        self,
        *,
        prospect_id: str | None,
        skill: str,
        skill_version: str,
        group: str,
        input_hash: str,
        attempts: int,
        reason_kind: str,
        reason: str,
        raw_output: str | None,
    ) -> tuple[int, bool]:
        """Keep a failed skill call for the operator, once per identical input.

        A retried (resolved) dead letter that fails again is reopened with the new output:
        returns (id, True) then, as for a new one.
        """
        with self._write() as c:
            found = c.execute(
                sa.select(t.dead_letters.c.id, t.dead_letters.c.resolved_at).where(
                    t.dead_letters.c.prospect_id == prospect_id,
                    t.dead_letters.c.skill == skill,
                    t.dead_letters.c.skill_version == skill_version,
                    t.dead_letters.c.input_hash == input_hash,
                )
            ).first()
            if found is not None and found.resolved_at is None:
                return int(found.id), False
            if found is not None:
                c.execute(
                    t.dead_letters.update()
                    .where(t.dead_letters.c.id == found.id)
                    .values(
                        resolved_at=None,
                        attempts=t.dead_letters.c.attempts + attempts,
                        reason_kind=reason_kind,
                        reason=reason,
                        raw_output=raw_output,
                    )
                )
                return int(found.id), True
            result = c.execute(
                t.dead_letters.insert().values(
                    prospect_id=prospect_id,
                    skill=skill,
                    skill_version=skill_version,
                    group_name=group,
                    input_hash=input_hash,
                    attempts=attempts,
                    reason_kind=reason_kind,
                    reason=reason,
                    raw_output=raw_output,
                    created_at=self.now(),
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0]), True

    def recorded_skill_result(self, dedupe_prefix: str) -> JournalRecord | None:
        """The journaled result of an identical earlier call (same skill text, subject and input)."""
        query = (
            sa.select(t.journal)
            .where(t.journal.c.dedupe_key.like(dedupe_prefix + "%"), t.journal.c.tombstoned_at.is_(None))
            .order_by(t.journal.c.id.desc())
            .limit(1)
        )
        with self._read() as c:
            row = c.execute(query).first()
        return _journal(row) if row is not None else None

    def open_dead_letter(
        self, *, prospect_id: str | None, skill: str, skill_version: str, input_hash: str
    ) -> dict[str, Any] | None:
        """An unresolved dead letter for exactly this call, if any."""
        query = sa.select(t.dead_letters).where(
            t.dead_letters.c.prospect_id.is_(None)
            if prospect_id is None
            else t.dead_letters.c.prospect_id == prospect_id,
            t.dead_letters.c.skill == skill,
            t.dead_letters.c.skill_version == skill_version,
            t.dead_letters.c.input_hash == input_hash,
            t.dead_letters.c.resolved_at.is_(None),
        )
        with self._read() as c:
            row = c.execute(query).first()
        return dict(row._mapping) if row is not None else None

    def resolve_dead_letter(
        self, dead_letter_id: int, *, actor: str, action: str, reason: str
    ) -> dict[str, Any]:
        """Close a dead letter (``retried`` or ``discarded``), journaled; returns the row."""
        now = self.now()
        with self._write() as c:
            row = c.execute(sa.select(t.dead_letters).where(t.dead_letters.c.id == dead_letter_id)).first()
            if row is None:
                raise KeyError(f"no dead letter #{dead_letter_id}")
            if row.resolved_at is not None:
                raise ValueError(f"dead letter #{dead_letter_id} is already resolved")
            c.execute(
                t.dead_letters.update().where(t.dead_letters.c.id == dead_letter_id).values(resolved_at=now)
            )
            self._append(
                c,
                subject=row.prospect_id or f"dead_letter:{dead_letter_id}",
                kind=f"dead_letter_{action}",
                actor=actor,
                payload={"dead_letter_id": dead_letter_id, "skill": row.skill, "reason": reason[:500]},
                now=now,
            )
            return dict(row._mapping)

    def open_dead_letters(self) -> list[dict[str, Any]]:
        query = (
            sa.select(
                t.dead_letters.c.id,
                t.dead_letters.c.prospect_id,
                t.dead_letters.c.skill,
                t.dead_letters.c.skill_version,
                t.dead_letters.c.reason_kind,
                t.dead_letters.c.reason,
                t.dead_letters.c.attempts,
            )
            .where(t.dead_letters.c.resolved_at.is_(None))
            .order_by(t.dead_letters.c.id)
        )
        with self._read() as c:
            return [dict(row._mapping) for row in c.execute(query)]

    # ------------------------------------------------------------ suppression

    def suppress(self, identity: str, *, kind: str, reason: str, journal_entry_id: str | None = None) -> bool:
        """Add an identity (an email hash or a prospect id) to the permanent suppression list."""
        with self._write() as c:
            if c.execute(
                sa.select(t.suppressions.c.identity).where(t.suppressions.c.identity == identity)
            ).first():
                return False
            c.execute(
                t.suppressions.insert().values(
                    identity=identity,
                    kind=kind,
                    reason=reason,
                    journal_entry_id=journal_entry_id,
                    created_at=self.now(),
                )
            )
            return True

    def suppression_reason(self, *identities: str) -> str | None:
        """Why any of ``identities`` is suppressed, or None when none is."""
        wanted = [i for i in identities if i]
        if not wanted:
            return None
        query = sa.select(t.suppressions.c.reason).where(t.suppressions.c.identity.in_(wanted)).limit(1)
        with self._read() as c:
            row = c.execute(query).first()
        return str(row.reason) if row else None

    def suppressions(self) -> list[dict[str, Any]]:
        with self._read() as c:
            return [
                dict(r._mapping)
                for r in c.execute(sa.select(t.suppressions).order_by(t.suppressions.c.created_at))
            ]

    # ------------------------------------------------------------ rights requests

    def record_rights_request(
        self,
        *,
        kind: str,
        subject_hash: str,
        prospect_id: str | None,
        received_at: dt.datetime,
        response_days: int,
    ) -> int:
        """Record a data principal's request with its due date, so none is forgotten."""
        with self._write() as c:
            result = c.execute(
                t.rights_requests.insert().values(
                    kind=kind,
                    subject_hash=subject_hash,
                    prospect_id=prospect_id,
                    status="open",
                    received_at=received_at,
                    due_at=received_at + dt.timedelta(days=response_days),
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def complete_rights_request(
        self, request_id: int, *, outcome: str, at: dt.datetime | None = None
    ) -> None:
        with self._write() as c:
            c.execute(
                t.rights_requests.update()
                .where(t.rights_requests.c.id == request_id)
                .values(status="completed", completed_at=at or self.now(), outcome=outcome)
            )

    def rights_requests(self, *, status: str | None = None) -> list[dict[str, Any]]:
        query = sa.select(t.rights_requests).order_by(t.rights_requests.c.due_at)
        if status:
            query = query.where(t.rights_requests.c.status == status)
        with self._read() as c:
            return [
                {k: (_utc(v) if isinstance(v, dt.datetime) else v) for k, v in r._mapping.items()}
                for r in c.execute(query)
            ]

    # ------------------------------------------------------------ erasure

    def prospects_with_email_hash(self, digest: str) -> list[tuple[str, str]]:
        """(id, state) of every prospect whose contact has this email hash."""
        query = sa.select(t.prospects.c.id, t.prospects.c.state).where(
            t.prospects.c.contact_email_hash == digest
        )
        with self._read() as c:
            return [(str(r.id), str(r.state)) for r in c.execute(query)]

    def tombstone_prospect(
        self, prospect_id: str, *, reason: str, now: dt.datetime | None = None
    ) -> dict[str, int]:
        """Remove every piece of personal data held for a prospect; keep ids, hashes and decisions.

        Contact fields, artifact content and URLs, journal payloads (reduced to decision
        metadata, see :func:`redact`), dead-letter raw outputs and operator notes go; the
        journal's hashes stay, so the chain still verifies. Idempotent.
        """
        at = now or self.now()
        counts = {"artifacts": 0, "journal_entries": 0, "dead_letters": 0, "outbox": 0, "inbox": 0}
        with self._write() as c:
            c.execute(
                t.prospects.update()
                .where(t.prospects.c.id == prospect_id)
                .values(
                    contact_name=None,
                    contact_email=None,
                    contact_role=None,
                    contact_timezone=None,
                    erased_at=at,
                )
            )
            sends = c.execute(
                t.outbox.update()
                .where(t.outbox.c.prospect_id == prospect_id, t.outbox.c.tombstoned_at.is_(None))
                .values(payload=None, last_error=None, tombstoned_at=at)
            )
            counts["outbox"] = sends.rowcount or 0
            events = c.execute(
                t.inbox.update()
                .where(t.inbox.c.prospect_id == prospect_id, t.inbox.c.tombstoned_at.is_(None))
                .values(payload={"tombstone": {"reason": reason}}, raw_message=None, tombstoned_at=at)
            )
            counts["inbox"] = events.rowcount or 0
            arts = c.execute(
                sa.select(t.artifacts.c.id, t.artifacts.c.meta).where(
                    t.artifacts.c.prospect_id == prospect_id, t.artifacts.c.tombstoned_at.is_(None)
                )
            ).all()
            for art in arts:
                kept = {k: v for k, v in dict(art.meta or {}).items() if k in _KEPT_ARTIFACT_META}
                c.execute(
                    t.artifacts.update()
                    .where(t.artifacts.c.id == art.id)
                    .values(
                        content=None,
                        url=None,
                        meta={**kept, "tombstone": {"reason": reason}},
                        tombstoned_at=at,
                    )
                )
            counts["artifacts"] = len(arts)
            entries = c.execute(
                sa.select(t.journal.c.id, t.journal.c.kind, t.journal.c.payload).where(
                    t.journal.c.subject == prospect_id, t.journal.c.tombstoned_at.is_(None)
                )
            ).all()
            for entry in entries:
                c.execute(
                    t.journal.update()
                    .where(t.journal.c.id == entry.id)
                    .values(payload=redact(entry.kind, dict(entry.payload), reason), tombstoned_at=at)
                )
            counts["journal_entries"] = len(entries)
            result = c.execute(
                t.dead_letters.update()
                .where(t.dead_letters.c.prospect_id == prospect_id, t.dead_letters.c.raw_output.is_not(None))
                .values(raw_output=None)
            )
            counts["dead_letters"] = result.rowcount or 0
            c.execute(
                t.review_queue.update().where(t.review_queue.c.prospect_id == prospect_id).values(reason=None)
            )
        return counts

    def inactive_prospects(self, cutoff: dt.datetime) -> list[str]:
        """Prospects not erased whose newest journal entry is older than ``cutoff``."""
        last = (
            sa.select(t.journal.c.subject, sa.func.max(t.journal.c.created_at).label("last"))
            .group_by(t.journal.c.subject)
            .subquery()
        )
        query = (
            sa.select(t.prospects.c.id)
            .join(last, last.c.subject == t.prospects.c.id)
            .where(t.prospects.c.erased_at.is_(None), last.c.last < cutoff)
            .order_by(t.prospects.c.id)
        )
        with self._read() as c:
            return [str(r.id) for r in c.execute(query)]

    def compact(self) -> bool:
        """Make erased content unrecoverable from the database files (see ``engine.compact``)."""
        return compact(self.engine)

    def journal_subjects(self) -> list[str]:
        """Every prospect id that has journal entries."""
        query = (
            sa.select(t.journal.c.subject).distinct().where(t.journal.c.subject.like("p\\_%", escape="\\"))
        )
        with self._read() as c:
            return sorted(str(r[0]) for r in c.execute(query))

    def copy_into(self, url: str, *, clock: Clock | None = None, batch: int = 1000) -> Store:
        """A new store at ``url`` (which must be empty) holding every row of this one: what a
        rehearsal works on, so the operator's own store is only ever read."""
        target = Store.open(url, clock=clock or self.clock)
        with target._read() as c:
            if any(
                c.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                for table in t.metadata.sorted_tables
            ):
                target.close()
                raise ValueError(f"{url} is not empty: a copy needs an empty store")
        with self._read() as source, target._write() as sink:
            for table in t.metadata.sorted_tables:
                rows: list[dict[str, Any]] = []
                for row in source.execute(sa.select(table)).mappings():
                    rows.append(dict(row))
                    if len(rows) >= batch:
                        sink.execute(table.insert(), rows)
                        rows = []
                if rows:
                    sink.execute(table.insert(), rows)
        return target

    def content_digest(self) -> str:
        """A hash of every row of every table: equal before and after means nothing was written."""
        digest = hashlib.sha256()
        with self._read() as c:
            for table in t.metadata.sorted_tables:
                digest.update(table.name.encode())
                for row in c.execute(sa.select(table).order_by(*table.primary_key.columns)):
                    digest.update(repr(tuple(row)).encode())
        return digest.hexdigest()

    # ------------------------------------------------------------ spend

    def record_spend(
        self, *, day: dt.date, group: str, provider: str, model: str, usage: Usage, cost_usd: float
    ) -> None:
        """Add one call's tokens and cost to the day's ledger (atomic increment)."""
        key = {"day": day, "group_name": group, "provider": provider, "model": model}
        with self._write() as c:
            row = c.execute(
                sa.select(t.spend).where(*(getattr(t.spend.c, k) == v for k, v in key.items()))
            ).first()
            values = {
                "calls": 1,
                "input_tokens": usage.input_tokens,
                "output_tokens": usage.output_tokens,
                "cache_read_tokens": usage.cache_read_tokens,
                "cache_write_tokens": usage.cache_write_tokens,
                "cost_usd": cost_usd,
            }
            if row is None:
                c.execute(t.spend.insert().values(**key, **values))
            else:
                c.execute(
                    t.spend.update()
                    .where(*(getattr(t.spend.c, k) == v for k, v in key.items()))
                    .values({name: getattr(t.spend.c, name) + value for name, value in values.items()})
                )

    def spend_on(self, day: dt.date, group: str) -> float:
        query = sa.select(sa.func.coalesce(sa.func.sum(t.spend.c.cost_usd), 0.0)).where(
            t.spend.c.day == day, t.spend.c.group_name == group
        )
        with self._read() as c:
            return float(c.execute(query).scalar_one())

    def spend_rows(self) -> list[dict[str, Any]]:
        with self._read() as c:
            return [
                dict(r._mapping)
                for r in c.execute(sa.select(t.spend).order_by(t.spend.c.day, t.spend.c.group_name))
            ]

    # ------------------------------------------------------------ reporting

    def counts_by_state(self) -> dict[str, int]:
        query = sa.select(t.prospects.c.state, sa.func.count()).group_by(t.prospects.c.state)
        with self._read() as c:
            return {str(state): int(n) for state, n in c.execute(query)}

    def count_artifacts(self, kind: str) -> int:
        query = sa.select(sa.func.count(sa.distinct(t.artifacts.c.prospect_id))).where(
            t.artifacts.c.kind == kind
        )
        with self._read() as c:
            return int(c.execute(query).scalar_one())

    def table_counts(self) -> dict[str, int]:
        """Row counts of every table (used by idempotency checks and ``gtm status``)."""
        with self._read() as c:
            return {
                table.name: int(c.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
                for table in t.metadata.sorted_tables
            }


R = TypeVar("R")


def _record(cls: type[R], row: sa.Row[Any]) -> R:
    """Build a record dataclass from the row's columns of the same names.

    Timestamps come back UTC-aware, JSON columns as plain dicts, states as :class:`State`.
    """
    values: dict[str, Any] = {}
    mapping = row._mapping
    for spec in fields(cls):  # type: ignore[arg-type]
        value = mapping[spec.name]
        if isinstance(value, dt.datetime):
            value = _utc(value)
        elif spec.name in ("meta", "payload"):
            value = dict(value or {})
        elif spec.name == "state":
            value = State(value)
        values[spec.name] = value
    return cls(**values)


def _prospect(row: sa.Row[Any]) -> ProspectRecord:
    return _record(ProspectRecord, row)


def _artifact(row: sa.Row[Any]) -> ArtifactRecord:
    return _record(ArtifactRecord, row)


def _journal(row: sa.Row[Any]) -> JournalRecord:
    return _record(JournalRecord, row)

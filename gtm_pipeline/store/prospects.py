"""Prospects, their hypotheses, and the one way a prospect's state changes: ``apply_event``,
through the pure transition table, journaled in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from gtm_pipeline.domain.ids import email_hash
from gtm_pipeline.domain.states import DISQUALIFIED, TERMINAL, Decision, Event, State, transition
from gtm_pipeline.store import schema as t
from gtm_pipeline.store.records import NewProspect, ProspectRecord, prospect_record

if TYPE_CHECKING:
    from gtm_pipeline.store.unit import Store


class Prospects:
    """The prospects table and its state machine."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def upsert_hypothesis(self, slug: str, title: str, version: str, digest: str) -> bool:
        """Record the hypothesis snapshot; returns True when it is new or changed."""
        now = self.store.now()
        with self.store.writing() as c:
            row = c.execute(sa.select(t.hypotheses.c.content_hash).where(t.hypotheses.c.slug == slug)).first()
            if row is not None and row.content_hash == digest:
                return False
            values = {"title": title, "version": version, "content_hash": digest, "updated_at": now}
            if row is None:
                c.execute(t.hypotheses.insert().values(slug=slug, **values))
            else:
                c.execute(t.hypotheses.update().where(t.hypotheses.c.slug == slug).values(**values))
            return True

    def add(
        self, new: NewProspect, *, actor: str, payload: dict[str, Any], run_id: str | None = None
    ) -> bool:
        """Register a discovered prospect once; returns False when it already exists."""
        now = self.store.now()
        with self.store.writing() as c:
            return self.add_in(c, new, actor=actor, payload=payload, now=now, run_id=run_id)

    def add_in(
        self,
        c: sa.Connection,
        new: NewProspect,
        *,
        actor: str,
        payload: dict[str, Any],
        now: dt.datetime,
        run_id: str | None = None,
    ) -> bool:
        """:meth:`add` inside the caller's write transaction (an import commits all rows or none)."""
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
        _entry, row = self.store.journal.append_row_in(
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

    def add_many_in(
        self,
        c: sa.Connection,
        new: list[tuple[NewProspect, dict[str, Any]]],
        *,
        actor: str,
        now: dt.datetime,
    ) -> None:
        """Register many prospects none of which exists yet (the caller checked), each with its
        ``discovered`` entry, in a few statements: what :meth:`add_in` does, for an import."""
        if not new:
            return
        heads = self.store.journal.append_first_in(
            c,
            [
                {
                    "subject": p.id,
                    "kind": "discovered",
                    "actor": actor,
                    "payload": {**payload, "to_state": State.DISCOVERED.value},
                }
                for p, payload in new
            ],
            now=now,
        )
        c.execute(
            t.prospects.insert(),
            [
                {
                    "id": p.id,
                    "hypothesis_slug": p.hypothesis_slug,
                    "company_domain": p.company_domain,
                    "company_name": p.company_name,
                    "contact_name": p.contact_name,
                    "contact_email": p.contact_email,
                    "contact_role": p.contact_role,
                    "contact_timezone": p.contact_timezone,
                    "contact_email_hash": email_hash(p.contact_email) if p.contact_email else None,
                    "state": State.DISCOVERED.value,
                    "state_since": now,
                    "discovered_at": now,
                    "state_entry": row,
                }
                for (p, _payload), (_entry, row) in zip(new, heads, strict=True)
            ],
        )

    def set_addressee(
        self, prospect_id: str, *, name: str | None, email: str | None, role: str | None
    ) -> None:
        """The person a first touch goes to (a published contact found after registration)."""
        with self.store.writing() as c:
            c.execute(
                t.prospects.update()
                .where(t.prospects.c.id == prospect_id, t.prospects.c.erased_at.is_(None))
                .values(
                    contact_name=name,
                    contact_email=email,
                    contact_role=role,
                    contact_email_hash=email_hash(email) if email else None,
                )
            )

    def entry_payloads_in_states(self, states: Sequence[str], since: dt.datetime) -> list[dict[str, Any]]:
        """The journal payload that moved each prospect now in ``states`` there, for those that
        entered it since ``since``: one indexed join, however long the journal."""
        query = (
            sa.select(t.journal.c.payload)
            .select_from(t.prospects.join(t.journal, t.journal.c.id == t.prospects.c.state_entry))
            .where(t.prospects.c.state.in_(list(states)), t.prospects.c.state_since >= since)
        )
        with self.store.reading() as c:
            return [dict(row.payload or {}) for row in c.execute(query)]

    def get(self, prospect_id: str) -> ProspectRecord | None:
        with self.store.reading() as c:
            row = c.execute(sa.select(t.prospects).where(t.prospects.c.id == prospect_id)).first()
        return prospect_record(row) if row is not None else None

    def company_names(self, prospect_ids: Iterable[str]) -> dict[str, str]:
        """Company name per prospect id, for the operator's lists (one query; unknown ids left out).
        Company names are not personal data and never go to Dagster: only the console and CLI."""
        wanted = sorted({pid for pid in prospect_ids if pid})
        names: dict[str, str] = {}
        with self.store.reading() as c:
            for start in range(0, len(wanted), 500):
                query = sa.select(t.prospects.c.id, t.prospects.c.company_name).where(
                    t.prospects.c.id.in_(wanted[start : start + 500])
                )
                names.update({str(row.id): str(row.company_name) for row in c.execute(query)})
        return names

    def find(
        self, *, hypothesis: str | None = None, states: Sequence[State] | None = None
    ) -> list[ProspectRecord]:
        query = sa.select(t.prospects).order_by(t.prospects.c.discovered_at, t.prospects.c.id)
        if hypothesis:
            query = query.where(t.prospects.c.hypothesis_slug == hypothesis)
        if states:
            query = query.where(t.prospects.c.state.in_([s.value for s in states]))
        with self.store.reading() as c:
            return [prospect_record(row) for row in c.execute(query)]

    def entered_state_after(self, state: State, after: int, limit: int) -> list[tuple[int, str]]:
        """(journal row, prospect id) of prospects now in ``state`` that entered it after journal row
        ``after``, oldest first: a sensor's whole cursor is the last row it handled.

        Rows become visible in id order on both backends, so a cursor can never pass a row that
        commits later: SQLite's write transactions hold its one write lock (``BEGIN IMMEDIATE``),
        and on Postgres journal writers take turns on an advisory lock held to commit (see
        :mod:`gtm_pipeline.store.journal`), since its sequence hands out ids before commit.
        """
        query = (
            sa.select(t.prospects.c.state_entry, t.prospects.c.id)
            .where(t.prospects.c.state == state.value, t.prospects.c.state_entry > after)
            .order_by(t.prospects.c.state_entry)
            .limit(limit)
        )
        with self.store.reading() as c:
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
        at = now or self.store.now()
        with self.store.writing() as c:
            return self.apply_in(
                c, prospect_id, event, actor=actor, rationale=rationale, at=at, details=details, run_id=run_id
            )

    def apply_if(
        self,
        prospect_id: str,
        expected: State,
        event: Event,
        *,
        actor: str,
        rationale: str,
        now: dt.datetime | None = None,
        details: dict[str, Any] | None = None,
        run_id: str | None = None,
    ) -> Decision | None:
        """:meth:`apply_event` only while the prospect is still in ``expected`` (compare-and-set):
        a pass acting on what it read earlier (a time rule, the send step's scheduling) does nothing
        and journals nothing when another pass moved the prospect first. None when it had moved."""
        at = now or self.store.now()
        with self.store.writing() as c:
            if self._state_in(c, prospect_id) != expected.value:
                return None
            return self.apply_in(
                c, prospect_id, event, actor=actor, rationale=rationale, at=at, details=details, run_id=run_id
            )

    @staticmethod
    def _state_in(c: sa.Connection, prospect_id: str) -> str | None:
        """The prospect's state, its row locked until the transaction ends (``FOR UPDATE`` in
        Postgres; SQLite's write transaction already holds the database's write lock)."""
        query = sa.select(t.prospects.c.state).where(t.prospects.c.id == prospect_id).with_for_update()
        return c.execute(query).scalar()

    def apply_in(
        self,
        c: sa.Connection,
        prospect_id: str,
        event: Event,
        *,
        actor: str,
        rationale: str,
        at: dt.datetime,
        details: dict[str, Any] | None = None,
        run_id: str | None = None,
    ) -> Decision:
        """:meth:`apply_event` inside the caller's write transaction ``c`` (the review decision, the
        send ledger): the decision commits with whatever else the caller writes, or not at all."""
        state = self._state_in(c, prospect_id)
        if state is None:
            raise KeyError(f"unknown prospect {prospect_id}")
        decision = transition(State(state), event, at)
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
        _entry, entry_row = self.store.journal.append_row_in(
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

    def counts_by_state(self) -> dict[str, int]:
        query = sa.select(t.prospects.c.state, sa.func.count()).group_by(t.prospects.c.state)
        with self.store.reading() as c:
            return {str(state): int(n) for state, n in c.execute(query)}

    def inactive(self, cutoff: dt.datetime) -> list[str]:
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
        with self.store.reading() as c:
            return [str(r.id) for r in c.execute(query)]

    def with_email_hash(self, digest: str) -> list[tuple[str, str]]:
        """(id, state) of every prospect whose contact has this email hash."""
        query = sa.select(t.prospects.c.id, t.prospects.c.state).where(
            t.prospects.c.contact_email_hash == digest
        )
        with self.store.reading() as c:
            return [(str(r.id), str(r.state)) for r in c.execute(query)]

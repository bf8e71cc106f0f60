"""Escalations: every failure an operator must see, until an operator acknowledges it.

Raised where the failure is decided (the runner, the send step, the inbox, a Dagster run
failure sensor), once per cause (a unique key), and shown by ``gtm status`` and the
console until acknowledged. Acknowledging is journaled.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from gtm_pipeline.store import schema as t
from gtm_pipeline.store.alert_deliveries import AlertDeliveries
from gtm_pipeline.store.records import record, utc

if TYPE_CHECKING:
    from gtm_pipeline.store.unit import Store

KINDS = (
    "run_failure",
    "dead_letter",
    "domain_halt",
    "circuit_open",
    "provider_fallback",  # results came from another provider than the group prefers
    "provider_busy",  # a provider kept answering 429: calls wait for a later run
    "spend_cap",
    "touch_failed",
    "touch_uncertain",
    "unmatched_event",
    "missing_partition",  # a sensor waits on a prospect Dagster has no partition for
    "inbox_held",  # stored events wait behind a Postgres transaction left open (the inbox sensor)
    "research_blocked",  # nothing could be fetched for a company, for a reason that may pass
    "rights_overdue",  # a data principal's request is past its due date
    "crm_failed",  # a CRM push, deal poll or erasure delete failed (the store keeps the truth)
    "crm_erasure_handoff",  # an erasure left a contact the team's CRM held before the pipeline
    "batch_unsupported",  # a host has no batch API: deferred calls were made directly
    "batch_failed",  # a batch could not be submitted, polled, read or deleted at the provider
    "alert_failed",  # an alert channel did not take a message (the escalation is still in the console)
)


@dataclass(frozen=True)
class Escalation:
    id: int
    kind: str
    key: str
    subject: str | None
    detail: str
    created_at: dt.datetime
    acknowledged_at: dt.datetime | None
    acknowledged_by: str | None


class Escalations:
    """Raise, list and acknowledge escalations."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.deliveries = AlertDeliveries(store)

    def raise_(self, kind: str, key: str, *, subject: str | None, detail: str) -> bool:
        """Record an escalation once per ``key``; returns True when it is new."""
        if kind not in KINDS:
            raise ValueError(f"unknown escalation kind {kind!r}")
        with self.store.writing() as c:  # one INSERT ... ON CONFLICT: two workers raising one key at once
            insert = postgresql.insert if c.dialect.name == "postgresql" else sqlite.insert
            added = c.execute(
                insert(t.escalations)
                .values(
                    kind=kind, key=key, subject=subject, detail=detail[:1000], created_at=self.store.now()
                )
                .on_conflict_do_nothing(index_elements=["key"])
                .returning(t.escalations.c.id)
            ).first()
            return added is not None

    def open(self, limit: int = 500) -> list[Escalation]:
        query = (
            sa.select(t.escalations)
            .where(t.escalations.c.acknowledged_at.is_(None))
            .order_by(t.escalations.c.id.desc())
            .limit(limit)
        )
        with self.store.reading() as c:
            return [record(Escalation, r) for r in c.execute(query)]

    def get(self, escalation_id: int) -> Escalation | None:
        query = sa.select(t.escalations).where(t.escalations.c.id == escalation_id)
        with self.store.reading() as c:
            row = c.execute(query).first()
        return record(Escalation, row) if row is not None else None

    def open_count(self) -> int:
        """How many wait for an operator (the console's badge on every page: one COUNT, no rows)."""
        query = sa.select(sa.func.count()).where(t.escalations.c.acknowledged_at.is_(None))
        with self.store.reading() as c:
            return int(c.execute(query).scalar() or 0)

    def acknowledge(self, escalation_id: int, *, actor: str, note: str = "") -> bool:
        """Mark seen and handled (journaled); False when it was already acknowledged or unknown."""
        now = self.store.now()
        with self.store.writing() as c:
            row = c.execute(sa.select(t.escalations).where(t.escalations.c.id == escalation_id)).first()
            if row is None or row.acknowledged_at is not None:
                return False
            c.execute(
                t.escalations.update()
                .where(t.escalations.c.id == escalation_id)
                .values(acknowledged_at=now, acknowledged_by=actor)
            )
            self.store.journal.append_in(
                c,
                subject=f"escalation:{escalation_id}",
                kind="escalation_acknowledged",
                actor=actor,
                payload={"kind": row.kind, "key": row.key, "note": note[:500]},
                now=now,
            )
            return True

    def raise_overdue_rights(self, now: dt.datetime | None = None) -> list[int]:
        """Every open rights request past its due date becomes an escalation (once per request); the
        time rules call this on each pass. Returns the ids of the requests newly escalated. The
        escalation names the request by id and kind only: never the person."""
        now = now or self.store.now()
        requests = t.rights_requests
        query = (
            sa.select(requests.c.id, requests.c.kind, requests.c.due_at)
            .where(requests.c.status == "open", requests.c.due_at < now)
            .order_by(requests.c.id)
        )
        with self.store.reading() as c:
            overdue = list(c.execute(query))
        raised = []
        for row in overdue:
            due = utc(row.due_at)
            late = max(1, (now - due).days)
            detail = (
                f"{row.kind} request #{row.id} was due {due:%Y-%m-%d} ({late} day(s) ago) and is still "
                "open: answer it (gtm rights list, or the console's Rights page)"
            )
            if self.raise_(
                "rights_overdue", f"rights_overdue:{row.id}", subject=f"rights:{row.id}", detail=detail
            ):
                raised.append(int(row.id))
        return raised

"""A verified booking event in, one journaled transition out: stored, matched and applied together.

Unlike a reply (classified later, by a skill that may call a model), a booking needs nothing slow:
the invitee's address hash finds the prospect, and the event's kind names the transition. So the
receiver does the whole of it in ONE write transaction: the inbox row (stored once by its key), the
transition through the table (journaled with the event as evidence: provider, event, booking
reference, the invitee's address hash; never a name or an address), and, for a booking that matches
nobody, the escalation. They commit together or not at all: a fault is a 5xx and the scheduler's
retry does all of it; a repeat of a stored key changes nothing. The row is stored already settled
(``processed`` or ``unmatched``), so the Resend inbox pass never takes it for one of its own.

Matching: the prospect whose addressee has the invitee's address hash, else a prospect whose
contacts include it (a colleague booked). Of several, the one whose state lets the event through,
most recently moved first; the count is kept on the row, so an ambiguous match is visible.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from gtm_pipeline.domain.states import TABLE, State
from gtm_pipeline.meetings.events import TRANSITIONS, BookingEvent
from gtm_pipeline.store import Store
from gtm_pipeline.store import schema as t

ACTOR = "step:meetings@1"
ESCALATION_KIND = "unmatched_event"


@dataclass(frozen=True)
class BookingResult:
    """What the receiver answers: the inbox row, whether it is new, and what it did (ids only)."""

    event_id: int
    new: bool
    status: str  # processed | unmatched
    prospect_id: str | None
    to: str | None  # the new state, ``rejected:<state>``, or None (recorded only)

    def as_json(self) -> dict[str, Any]:
        return {
            "stored": self.new,
            "event_id": self.event_id,
            "status": self.status,
            "prospect_id": self.prospect_id,
            "to": self.to,
        }


def _candidates(c: sa.Connection, invitee_hash: str) -> list[tuple[str, str, dt.datetime]]:
    """(prospect id, state, state since) of every prospect the address belongs to, newest move first."""
    p = t.prospects
    columns = (p.c.id, p.c.state, p.c.state_since)
    own = c.execute(
        sa.select(*columns).where(p.c.contact_email_hash == invitee_hash, p.c.erased_at.is_(None))
    ).all()
    if not own:
        own = c.execute(
            sa.select(*columns)
            .join(t.contacts, t.contacts.c.prospect_id == p.c.id)
            .where(
                t.contacts.c.email_hash == invitee_hash,
                t.contacts.c.tombstoned_at.is_(None),
                p.c.erased_at.is_(None),
            )
            .distinct()
        ).all()
    return sorted(
        ((str(r.id), str(r.state), r.state_since) for r in own), key=lambda r: (r[2], r[0]), reverse=True
    )


def match(c: sa.Connection, event: BookingEvent) -> tuple[str | None, int]:
    """The prospect the event is about (or None) and how many prospects the address matched."""
    found = _candidates(c, event.invitee_hash)
    if not found:
        return None, 0
    wanted = TRANSITIONS.get(event.kind)
    allowed = [pid for pid, state, _ in found if wanted is not None and (State(state), wanted) in TABLE]
    return (allowed or [found[0][0]])[0], len(found)


def _escalate_in(store: Store, c: sa.Connection, event: BookingEvent, event_id: int, at: dt.datetime) -> None:
    """The operator sees a booking nobody matched (in this transaction: never stored without it)."""
    detail = (
        f"{event.provider} {event.provider_type} (inbox event #{event_id}, "
        f"booking {event.booking_ref or '?'}) "
        "matched no prospect by the invitee's address: find the person in the scheduler and link them"
    )
    insert = postgresql.insert if c.dialect.name == "postgresql" else sqlite.insert
    c.execute(
        insert(t.escalations)
        .values(
            kind=ESCALATION_KIND, key=f"inbox:{event_id}", subject=None, detail=detail[:1000], created_at=at
        )
        .on_conflict_do_nothing(index_elements=["key"])
    )


def record_in(
    store: Store, c: sa.Connection, event: BookingEvent, payload: dict[str, Any], *, at: dt.datetime
) -> BookingResult:
    """Store ``event`` once and apply it, inside the caller's write transaction ``c``."""
    prospect_id, matched = match(c, event)
    status = "processed" if prospect_id is not None else "unmatched"
    event_id, new = store.inbox.add_event_in(
        c,
        event_key=event.event_key,
        event_type=event.inbox_type,
        payload=payload,
        prospect_id=prospect_id,
        touch_id=None,
        provider_email_id=None,
        status=status,
        at=at,
    )
    if not new:  # a repeat: what the first delivery did stands
        row = c.execute(
            sa.select(t.inbox.c.status, t.inbox.c.prospect_id, t.inbox.c.outcome).where(
                t.inbox.c.id == event_id
            )
        ).one()
        return BookingResult(event_id, False, str(row.status), row.prospect_id, (row.outcome or {}).get("to"))
    to: str | None = None
    transition = TRANSITIONS.get(event.kind)
    if prospect_id is None:
        _escalate_in(store, c, event, event_id, at)
    elif transition is not None:
        decision = store.prospects.apply_in(
            c,
            prospect_id,
            transition,
            actor=ACTOR,
            rationale=f"{event.provider}: {event.provider_type}",
            at=at,
            details={"inbox_event": event_id, **event.evidence()},
        )
        to = decision.to_state.value if decision.allowed else f"rejected:{decision.from_state.value}"
    outcome: dict[str, Any] = {"kind": event.kind, "provider": event.provider, "matched": matched}
    if to is not None:
        outcome["to"] = to
    if transition is None:
        outcome["note"] = f"recorded ({event.provider_type})"
    c.execute(t.inbox.update().where(t.inbox.c.id == event_id).values(outcome=outcome, processed_at=at))
    return BookingResult(event_id, True, status, prospect_id, to)

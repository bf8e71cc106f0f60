"""Prospect states.

The working path and the first-class disqualification destinations. Issue "state
machine" completes the transition table; what lives here now is the vocabulary and the
edges the research-and-draft part of the pipeline uses, so no state is ever set ad hoc.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class State(StrEnum):
    """Where a prospect is. Values are stored in the journal: never rename one."""

    DISCOVERED = "discovered"
    RESEARCHING = "researching"
    QUALIFIED = "qualified"
    DRAFTED = "drafted"
    AWAITING_REVIEW = "awaiting_review"
    APPROVED = "approved"
    SCHEDULED = "scheduled"
    SENT = "sent"
    AWAITING_REPLY = "awaiting_reply"
    FOLLOW_UP_DUE = "follow_up_due"
    REPLIED = "replied"
    MEETING_BOOKED = "meeting_booked"
    WON = "won"
    LOST = "lost"
    # first-class disqualification destinations
    NOT_A_FIT = "not_a_fit"
    NOT_NOW = "not_now"
    UNREACHABLE = "unreachable"
    UNRESPONSIVE = "unresponsive"
    DO_NOT_CONTACT = "do_not_contact"
    CONFLICT = "conflict"


DISQUALIFIED: frozenset[State] = frozenset(
    {
        State.NOT_A_FIT,
        State.NOT_NOW,
        State.UNREACHABLE,
        State.UNRESPONSIVE,
        State.DO_NOT_CONTACT,
        State.CONFLICT,
    }
)


class Event(StrEnum):
    """What can happen to a prospect in the research-and-draft part of the pipeline."""

    RESEARCH_STARTED = "research_started"
    QUALIFIED = "qualified"
    DISQUALIFIED = "disqualified"
    DRAFT_READY_FOR_REVIEW = "draft_ready_for_review"
    DRAFT_AUTO_APPROVED = "draft_auto_approved"


_EDGES: dict[tuple[State, Event], State] = {
    (State.DISCOVERED, Event.RESEARCH_STARTED): State.RESEARCHING,
    (State.RESEARCHING, Event.RESEARCH_STARTED): State.RESEARCHING,
    (State.RESEARCHING, Event.QUALIFIED): State.QUALIFIED,
    (State.RESEARCHING, Event.DISQUALIFIED): State.NOT_A_FIT,
    (State.QUALIFIED, Event.DRAFT_READY_FOR_REVIEW): State.AWAITING_REVIEW,
    (State.QUALIFIED, Event.DRAFT_AUTO_APPROVED): State.APPROVED,
}


class Decision(BaseModel):
    """The outcome of applying an event: allowed (with the new state) or rejected (with why)."""

    model_config = ConfigDict(frozen=True)

    allowed: bool
    from_state: State
    to_state: State
    event: Event
    at: dt.datetime
    reason: str


def transition(state: State, event: Event, now: dt.datetime) -> Decision:
    """Apply ``event`` to ``state``: a pure table lookup, never a silent change."""
    target = _EDGES.get((state, event))
    if target is None:
        return Decision(
            allowed=False,
            from_state=state,
            to_state=state,
            event=event,
            at=now,
            reason=f"event {event.value!r} is not allowed in state {state.value!r}",
        )
    return Decision(allowed=True, from_state=state, to_state=target, event=event, at=now, reason="table")

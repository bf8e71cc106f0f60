"""Prospect states and the transition table (pure).

Every state change in the product goes through :func:`transition`: a lookup in one
explicit table. An event the table does not allow is a rejected :class:`Decision` that the
store journals; nothing changes silently. Replay and dry runs call the same function as
the live path, so what they say is what would happen.

Compliance shapes the table: ``do_not_contact`` is terminal (only further stop-requests
reach it again, as no-ops), every state can reach it, and nothing leads from it to a send.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
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
    # The booked time has passed (Cal.com's MEETING_ENDED): the meeting took place, or at least its
    # slot did; a host's later no-show mark corrects it to NO_SHOW.
    MEETING_HELD = "meeting_held"
    # Booked, and the prospect did not come. Forward, not back to ``replied``: the funnel must still
    # count the booking, and "booked and did not come" is its own, weaker signal for the operator
    # (a nudge to rebook, or a loss), which ``replied`` would hide. A rebooking leaves it.
    NO_SHOW = "no_show"
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
TERMINAL: frozenset[State] = frozenset({State.DO_NOT_CONTACT, State.WON, State.LOST})
PRE_SEND: frozenset[State] = frozenset(
    {
        State.DISCOVERED,
        State.RESEARCHING,
        State.QUALIFIED,
        State.DRAFTED,
        State.AWAITING_REVIEW,
        State.APPROVED,
    }
)
IN_SEQUENCE: frozenset[State] = frozenset(
    {State.SCHEDULED, State.SENT, State.AWAITING_REPLY, State.FOLLOW_UP_DUE}
)
MEETINGS: frozenset[State] = frozenset({State.MEETING_BOOKED, State.MEETING_HELD, State.NO_SHOW})
ACTIVE: frozenset[State] = PRE_SEND | IN_SEQUENCE | {State.REPLIED} | MEETINGS


class Event(StrEnum):
    """Everything that can happen to a prospect. Values are stored: never rename one."""

    # research and drafting
    RESEARCH_STARTED = "research_started"
    QUALIFIED = "qualified"
    DISQUALIFIED = "disqualified"
    DRAFT_CREATED = "draft_created"
    DRAFT_READY_FOR_REVIEW = "draft_ready_for_review"
    DRAFT_AUTO_APPROVED = "draft_auto_approved"
    NO_REACHABLE_CONTACT = "no_reachable_contact"  # qualified, but no person's own address to write to
    # the operator
    DRAFT_APPROVED = "draft_approved"
    DRAFT_REJECTED = "draft_rejected"
    OPERATOR_DISQUALIFIED = "operator_disqualified"
    OPERATOR_REOPENED = "operator_reopened"
    CONFLICT_RESOLVED = "conflict_resolved"
    # sending and delivery
    SEND_SCHEDULED = "send_scheduled"
    SENT = "sent"
    DELIVERED = "delivered"
    DELIVERY_DELAYED = "delivery_delayed"
    SOFT_BOUNCED = "soft_bounced"
    HARD_BOUNCED = "hard_bounced"
    # replies
    REPLY_RECEIVED = "reply_received"
    OUT_OF_OFFICE = "out_of_office"
    NOT_NOW_REPLY = "not_now_reply"
    NOT_A_FIT_REPLY = "not_a_fit_reply"
    CONTACT_GONE = "contact_gone"  # "has left the company", "this mailbox is no longer monitored"
    # meetings (booking webhooks from Cal.com or Calendly)
    MEETING_BOOKED = "meeting_booked"
    MEETING_CANCELLED = "meeting_cancelled"
    MEETING_RESCHEDULED = "meeting_rescheduled"
    MEETING_HELD = "meeting_held"
    MEETING_NO_SHOW = "meeting_no_show"
    DEAL_WON = "deal_won"
    DEAL_LOST = "deal_lost"
    # compliance: deterministic and immediate
    UNSUBSCRIBED = "unsubscribed"
    COMPLAINED = "complained"
    DO_NOT_CONTACT_REQUESTED = "do_not_contact_requested"
    ERASED = "erased"
    # rules
    CONFLICT_DETECTED = "conflict_detected"
    NO_REPLY_TIMEOUT = "no_reply_timeout"
    UNRESPONSIVE_TIMEOUT = "unresponsive_timeout"
    REVISIT_DUE = "revisit_due"
    SIGNAL_REOPENED = "signal_reopened"  # a not-now prospect's awaited kind of signal was observed


STOP_EVENTS: frozenset[Event] = frozenset(
    {Event.UNSUBSCRIBED, Event.COMPLAINED, Event.DO_NOT_CONTACT_REQUESTED, Event.ERASED}
)


# Where a booking webhook may move a prospect to MEETING_BOOKED from.
BOOKABLE: frozenset[State] = IN_SEQUENCE | MEETINGS | {State.REPLIED, State.UNRESPONSIVE, State.NOT_NOW}


def _edges(sources: Iterable[State], event: Event, target: State) -> dict[tuple[State, Event], State]:
    return {(source, event): target for source in sources}


TABLE: dict[tuple[State, Event], State] = {
    # research and drafting
    (State.DISCOVERED, Event.RESEARCH_STARTED): State.RESEARCHING,
    (State.RESEARCHING, Event.QUALIFIED): State.QUALIFIED,
    (State.RESEARCHING, Event.DISQUALIFIED): State.NOT_A_FIT,
    (State.QUALIFIED, Event.DRAFT_CREATED): State.DRAFTED,
    (State.QUALIFIED, Event.DRAFT_READY_FOR_REVIEW): State.AWAITING_REVIEW,
    (State.DRAFTED, Event.DRAFT_READY_FOR_REVIEW): State.AWAITING_REVIEW,
    (State.QUALIFIED, Event.DRAFT_AUTO_APPROVED): State.APPROVED,
    (State.DRAFTED, Event.DRAFT_AUTO_APPROVED): State.APPROVED,
    (State.FOLLOW_UP_DUE, Event.DRAFT_READY_FOR_REVIEW): State.AWAITING_REVIEW,
    (State.FOLLOW_UP_DUE, Event.DRAFT_AUTO_APPROVED): State.APPROVED,
    # A qualified company with nobody to email waits for a manual channel, its context pack ready.
    (State.QUALIFIED, Event.NO_REACHABLE_CONTACT): State.UNREACHABLE,
    # the operator
    (State.AWAITING_REVIEW, Event.DRAFT_APPROVED): State.APPROVED,
    (State.AWAITING_REVIEW, Event.DRAFT_REJECTED): State.QUALIFIED,
    **_edges(PRE_SEND | {State.CONFLICT}, Event.OPERATOR_DISQUALIFIED, State.NOT_A_FIT),
    **_edges(
        {State.NOT_A_FIT, State.UNRESPONSIVE, State.UNREACHABLE}, Event.OPERATOR_REOPENED, State.RESEARCHING
    ),
    (State.CONFLICT, Event.CONFLICT_RESOLVED): State.RESEARCHING,
    # sending and delivery
    (State.APPROVED, Event.SEND_SCHEDULED): State.SCHEDULED,
    (State.SCHEDULED, Event.SENT): State.SENT,
    (State.SENT, Event.DELIVERED): State.AWAITING_REPLY,
    (State.SENT, Event.DELIVERY_DELAYED): State.SENT,
    (State.SENT, Event.SOFT_BOUNCED): State.SENT,
    (State.AWAITING_REPLY, Event.DELIVERED): State.AWAITING_REPLY,
    **_edges(
        {State.SCHEDULED, State.SENT, State.AWAITING_REPLY, State.FOLLOW_UP_DUE},
        Event.HARD_BOUNCED,
        State.UNREACHABLE,
    ),
    # replies (a bounce or an auto-reply is never a reply: see OUT_OF_OFFICE)
    **_edges(IN_SEQUENCE - {State.SCHEDULED} | {State.UNRESPONSIVE}, Event.REPLY_RECEIVED, State.REPLIED),
    **_edges(
        {State.SENT, State.AWAITING_REPLY, State.FOLLOW_UP_DUE}, Event.OUT_OF_OFFICE, State.AWAITING_REPLY
    ),
    **_edges(IN_SEQUENCE - {State.SCHEDULED} | {State.REPLIED}, Event.NOT_NOW_REPLY, State.NOT_NOW),
    **_edges(IN_SEQUENCE - {State.SCHEDULED} | {State.REPLIED}, Event.NOT_A_FIT_REPLY, State.NOT_A_FIT),
    # The person is gone from this address: no more mail there (a replacement is a referral, kept apart).
    **_edges(IN_SEQUENCE - {State.SCHEDULED} | {State.REPLIED}, Event.CONTACT_GONE, State.UNREACHABLE),
    # Meetings. Someone may book from the first email (the booking link can be in any touch), from a
    # reply, after going quiet, or again (a second meeting, a rebooking after a no-show); a send still
    # scheduled is stopped by leaving SCHEDULED (only SCHEDULED is sendable).
    **_edges(BOOKABLE, Event.MEETING_BOOKED, State.MEETING_BOOKED),
    (State.MEETING_BOOKED, Event.MEETING_CANCELLED): State.REPLIED,
    (State.MEETING_BOOKED, Event.MEETING_RESCHEDULED): State.MEETING_BOOKED,
    (State.MEETING_BOOKED, Event.MEETING_HELD): State.MEETING_HELD,
    # A no-show is marked by the host after the slot, often after MEETING_ENDED already said "held".
    **_edges({State.MEETING_BOOKED, State.MEETING_HELD}, Event.MEETING_NO_SHOW, State.NO_SHOW),
    **_edges(MEETINGS, Event.DEAL_WON, State.WON),
    **_edges(MEETINGS, Event.DEAL_LOST, State.LOST),
    (State.REPLIED, Event.DEAL_LOST): State.LOST,
    # rules
    **_edges(PRE_SEND, Event.CONFLICT_DETECTED, State.CONFLICT),
    (State.AWAITING_REPLY, Event.NO_REPLY_TIMEOUT): State.FOLLOW_UP_DUE,
    **_edges({State.AWAITING_REPLY, State.FOLLOW_UP_DUE}, Event.UNRESPONSIVE_TIMEOUT, State.UNRESPONSIVE),
    (State.NOT_NOW, Event.REVISIT_DUE): State.RESEARCHING,
    (State.NOT_NOW, Event.SIGNAL_REOPENED): State.RESEARCHING,
    # compliance: from every state, including do_not_contact itself (a repeated request is a no-op)
    **{(state, event): State.DO_NOT_CONTACT for state in State for event in STOP_EVENTS},
}

SENDABLE: frozenset[State] = frozenset({State.SCHEDULED})


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
    target = TABLE.get((state, event))
    if target is None:
        return Decision(
            allowed=False,
            from_state=state,
            to_state=state,
            event=event,
            at=now,
            reason=f"event {event.value!r} is not allowed in state {state.value!r}",
        )
    return Decision(
        allowed=True,
        from_state=state,
        to_state=target,
        event=event,
        at=now,
        reason=f"{state.value} -> {target.value} on {event.value}",
    )

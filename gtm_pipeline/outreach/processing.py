"""Stored provider events in, state machine out.

Runs after the receiver stored an event (the ``conversation`` asset, launched by the inbox
sensor, or ``gtm inbox process``): each stored event becomes at most one transition, its row is
marked processed exactly once, and what was decided and why is journaled. The event type picks a
handler from :data:`HANDLERS`; every handler returns an :class:`EventResult`. A bounce or an
auto-reply is never a reply; an out-of-office pauses the sequence until its return date.

A pass claims each event in the ledger *before* handling it, so two passes at once never both
apply it; a pass that takes over the claim of one that died looks first for the transition that
one may already have journaled.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from gtm_pipeline.config.model import PrivacySettings
from gtm_pipeline.domain.ids import email_hash
from gtm_pipeline.domain.states import Event, State
from gtm_pipeline.outreach.classify import Classification, classify
from gtm_pipeline.outreach.ingest import Fetch, rfc822_from_received, suppress_identities
from gtm_pipeline.outreach.mailparse import parse_mail
from gtm_pipeline.skills.catalog import SkillCatalog
from gtm_pipeline.skills.runner import SkillRunner
from gtm_pipeline.store import Store
from gtm_pipeline.store.claims import claimer
from gtm_pipeline.store.inbox import Inbox, InboxRow
from gtm_pipeline.store.ledger import SENDING, OutreachLedger, Touch

ACTOR = "step:inbound@1"

_REPLY_EVENTS: dict[str, Event] = {
    "interested": Event.REPLY_RECEIVED,
    "question": Event.REPLY_RECEIVED,
    "referral": Event.REPLY_RECEIVED,
    "other": Event.REPLY_RECEIVED,
    "not_now": Event.NOT_NOW_REPLY,
    "not_a_fit": Event.NOT_A_FIT_REPLY,
    "unsubscribe": Event.UNSUBSCRIBED,
    "complaint": Event.COMPLAINED,
    "out_of_office": Event.OUT_OF_OFFICE,
    # The person is gone from this address; a replacement offered is journaled as ``referral_to``.
    "unreachable": Event.CONTACT_GONE,
}


@dataclass(frozen=True)
class EventResult:
    """What handling one event decided: ids and decisions only, never a reply's text or an address.

    ``status``: ``processed``, ``unmatched`` (no touch matches it), or ``new`` (a reply whose
    body is not fetched yet: it waits). ``to``: the state the event moved the prospect to, or
    ``rejected:<state>`` when the transition table refused it.
    """

    status: str
    to: str | None = None
    note: str | None = None
    classification: dict[str, Any] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """What the inbox row keeps as its outcome."""
        kept: dict[str, Any] = dict(self.classification)
        if self.to is not None:
            kept["to"] = self.to
        if self.note is not None:
            kept["note"] = self.note
        return kept


@dataclass(frozen=True)
class EventOutcome:
    """One processed event, as the processing run reports it."""

    event_id: int
    prospect_id: str | None
    result: EventResult

    @property
    def category(self) -> str | None:
        return self.result.classification.get("category")

    @property
    def decided_by(self) -> str | None:
        return self.result.classification.get("decided_by")

    def summary(self) -> str:
        """The category, new state or note: what an operator reads for this event."""
        return str(self.category or self.result.note or self.result.to or self.result.status)


@dataclass(frozen=True)
class StoredEvent:
    """An event row with what every handler needs to look at."""

    row: InboxRow
    touch: Touch | None
    state: State | None
    data: dict[str, Any]
    at: dt.datetime
    resumed: bool = False  # a pass that died held it: its transition may be journaled already


@dataclass
class InboxProcessor:
    """Turns stored events into transitions (one per event at most)."""

    store: Store
    catalog: SkillCatalog | None = None
    runner: SkillRunner | None = None
    fetch: Fetch | None = None
    run_id: str | None = None
    # The published response period: an erasure asked for in a reply is due within it.
    response_days: int = PrivacySettings().rights_response_days

    @property
    def ledger(self) -> OutreachLedger:
        return self.store.ledger

    @property
    def inbox(self) -> Inbox:
        return self.store.inbox

    def process(
        self, prospect_ids: list[str] | None = None, now: dt.datetime | None = None
    ) -> list[EventOutcome]:
        """Process every new event (of ``prospect_ids`` when given); returns the outcomes."""
        at = now or self.store.now()
        rows = (
            self.inbox.pending_events()
            if prospect_ids is None
            else [row for pid in prospect_ids for row in self.inbox.pending_events(pid)]
        )
        outcomes, me = [], claimer()
        for listed in sorted(rows, key=lambda r: r.id):
            claim = self.inbox.claim_event(listed.id, me, at=at)
            if claim is None:
                continue  # another pass holds it, or finished it since the list was read
            try:
                row, result = self._handle(claim.row, at, resumed=claim.resumed)
                if result.status == "unmatched":
                    self.store.escalations.raise_(
                        "unmatched_event",
                        f"inbox:{row.id}",
                        subject=None,
                        detail=f"inbox event #{row.id} ({row.event_type}) matched no touch",
                    )
            except BaseException:
                # This pass is stopping: hand the event back now rather than after the lease.
                with contextlib.suppress(Exception):
                    self.inbox.release_event(listed.id, me)
                raise
            if self.inbox.finish_event(row.id, result.status, result.record(), at, claimer=me):
                outcomes.append(EventOutcome(row.id, row.prospect_id, result))
        return outcomes

    def _handle(self, row: InboxRow, at: dt.datetime, *, resumed: bool) -> tuple[InboxRow, EventResult]:
        if row.event_type == "email.received" and row.prospect_id is None:
            row = self._late_correlate(row)
        if row.prospect_id is None:
            return row, EventResult("unmatched", note="no touch matches this event")
        event = StoredEvent(
            row=row,
            touch=self.ledger.touch(row.touch_id) if row.touch_id else None,
            state=self._state(row),
            data=(row.payload or {}).get("data") or {},
            at=at,
            resumed=resumed,
        )
        handler = HANDLERS.get(row.event_type, _recorded)
        return row, handler(self, event)

    # ------------------------------------------------------------ shared by the handlers

    def apply(
        self, event: StoredEvent, transition: Event, why: str, details: dict[str, Any] | None = None
    ) -> str:
        """Apply ``transition`` to the event's prospect (journaled); returns the new state or the refusal.
        Once per event: an event taken over from a pass that died returns what that pass journaled."""
        row = event.row
        if event.resumed:
            done = self._journaled(row)
            if done is not None:
                return done
        decision = self.store.prospects.apply_event(
            str(row.prospect_id),
            transition,
            actor=ACTOR,
            rationale=why,
            details={"inbox_event": row.id, "touch_id": row.touch_id, **(details or {})},
            now=event.at,
            run_id=self.run_id,
        )
        return decision.to_state.value if decision.allowed else f"rejected:{decision.from_state.value}"

    def _journaled(self, row: InboxRow) -> str | None:
        """The outcome of this event's transition if one is journaled already (as :meth:`apply`
        reports it), else None."""
        for entry in reversed(self.store.journal.entries(str(row.prospect_id))):
            if (
                entry.kind in ("transition", "transition_rejected")
                and entry.payload.get("inbox_event") == row.id
            ):
                if entry.kind == "transition":
                    return str(entry.payload["to_state"])
                return f"rejected:{entry.payload['from_state']}"
        return None

    def _state(self, row: InboxRow) -> State | None:
        prospect = self.store.prospects.get(str(row.prospect_id))
        return prospect.state if prospect else None

    def raw(self, row: InboxRow) -> str | None:
        """The reply's RFC 822 text: stored at ingest, or fetched now through the receiving API."""
        if row.raw_message:
            return row.raw_message
        email_id = ((row.payload or {}).get("data") or {}).get("email_id")
        if self.fetch is None or not email_id:
            return None
        raw = rfc822_from_received(self.fetch(str(email_id)))
        self.inbox.set_raw_message(row.id, raw, row.prospect_id, row.touch_id)
        return raw

    def _late_correlate(self, row: InboxRow) -> InboxRow:
        """Thread an unmatched reply by In-Reply-To / References against the ledger's Message-IDs."""
        raw = self.raw(row)
        if raw is None:
            return row
        for mid in parse_mail(raw).thread_ids:
            touch = self.ledger.touch_by_message_id(mid)
            if touch is not None:
                self.inbox.set_raw_message(row.id, raw, touch.prospect_id, touch.touch_id)
                return replace(row, prospect_id=touch.prospect_id, touch_id=touch.touch_id, raw_message=raw)
        return row


# ---------------------------------------------------------------- one handler per event type


def _one_click(proc: InboxProcessor, event: StoredEvent) -> EventResult:
    return EventResult("processed", to=proc.apply(event, Event.UNSUBSCRIBED, "one-click unsubscribe"))


def _sent(proc: InboxProcessor, event: StoredEvent) -> EventResult:
    touch = event.touch
    if touch is not None and touch.status in ("pending", SENDING, "uncertain") and event.data.get("email_id"):
        proc.ledger.mark_sent(
            touch,
            str(event.data["email_id"]),
            actor=ACTOR,
            rationale="settled by Resend's email.sent",
            at=event.at,
        )
        return EventResult("processed", note="ledger settled from email.sent")
    return EventResult("processed", note="confirmation")


def _delivered(proc: InboxProcessor, event: StoredEvent) -> EventResult:
    if event.touch is not None:
        proc.ledger.mark_outcome(event.touch.touch_id, "delivered_at", event.at)
    if event.state is State.SENT:
        return EventResult("processed", to=proc.apply(event, Event.DELIVERED, "Resend: delivered"))
    return EventResult("processed", note=f"delivered (state {event.state.value if event.state else '?'})")


def _delayed(proc: InboxProcessor, event: StoredEvent) -> EventResult:
    if event.state is State.SENT:
        return EventResult("processed", to=proc.apply(event, Event.DELIVERY_DELAYED, "Resend: delayed"))
    return EventResult("processed", note="delayed")


def _bounced(proc: InboxProcessor, event: StoredEvent) -> EventResult:
    kind = event.row.event_type
    hard = (
        kind == "email.suppressed"
        or str((event.data.get("bounce") or {}).get("type", "")).lower() == "permanent"
    )
    if event.touch is not None and hard:
        proc.ledger.mark_outcome(event.touch.touch_id, "bounced_at", event.at)
    if hard:
        return EventResult("processed", to=proc.apply(event, Event.HARD_BOUNCED, f"Resend: {kind}"))
    if event.state is State.SENT:
        return EventResult("processed", to=proc.apply(event, Event.SOFT_BOUNCED, "Resend: soft bounce"))
    return EventResult("processed", note="soft bounce")


def _complained(proc: InboxProcessor, event: StoredEvent) -> EventResult:
    if event.touch is not None:
        proc.ledger.mark_outcome(event.touch.touch_id, "complained_at", event.at)
    return EventResult("processed", to=proc.apply(event, Event.COMPLAINED, "Resend: complaint"))


def _failed(proc: InboxProcessor, event: StoredEvent) -> EventResult:
    """Resend gave up on an email. Only a touch nobody is sending and nobody saw sent or delivered
    becomes failed (compare-and-set): a send pass holding it gets Resend's own answer."""
    if event.touch is not None:
        proc.ledger.set_status(
            event.touch.touch_id, "failed", "Resend: email.failed", expected=("pending", "uncertain")
        )
    return EventResult("processed", note="failed")


def _received(proc: InboxProcessor, event: StoredEvent) -> EventResult:
    """A reply: rules first, then the classify-reply skill; one transition from the category."""
    row = event.row
    raw = proc.raw(row)
    if raw is None:
        return EventResult("new") if proc.fetch is None else EventResult("unmatched", note="no body")
    mail = parse_mail(raw)
    result = classify(
        mail,
        mail.date or row.received_at,
        catalog=proc.catalog,
        runner=proc.runner,
        subject=str(row.prospect_id),
        prospect_id=row.prospect_id,
    )
    decision = _public(result)
    sender = email_hash(mail.from_address) if "@" in mail.from_address else None
    if result.category in ("unsubscribe", "complaint") and sender:
        suppress_identities(proc.store, f"reply_{result.category}", sender)
    if result.erasure_requested:
        proc.store.privacy.record_rights_request(
            kind="erasure",
            subject_hash=sender or "",
            prospect_id=row.prospect_id,
            received_at=event.at,
            response_days=proc.response_days,
        )
    if result.category == "bounce":
        transition = Event.HARD_BOUNCED if result.hard_bounce else Event.SOFT_BOUNCED
        to = None
        if result.hard_bounce or event.state is State.SENT:
            to = proc.apply(event, transition, f"bounce ({result.decided_by})")
        return EventResult("processed", to=to, classification=decision)
    if result.category == "auto_reply":
        return EventResult(
            "processed", note="automatic reply: never a reply, never answered", classification=decision
        )
    details: dict[str, Any] = {"category": result.category, "decided_by": result.decided_by}
    if result.category == "out_of_office" and result.resume_on:
        details["resume_on"] = result.resume_on.isoformat()
    if result.category == "not_now":
        details["revisit_on"] = result.revisit_on.isoformat() if result.revisit_on else None
        details["signal"] = result.signal
        details["revisit_when"] = list(result.revisit_when)
    if result.referral_to:
        details["referral_to"] = result.referral_to
    to = proc.apply(
        event, _REPLY_EVENTS[result.category], f"reply: {result.category} ({result.decided_by})", details
    )
    return EventResult("processed", to=to, classification=decision)


def _recorded(proc: InboxProcessor, event: StoredEvent) -> EventResult:
    return EventResult("processed", note=f"recorded ({event.row.event_type})")


HANDLERS: dict[str, Callable[[InboxProcessor, StoredEvent], EventResult]] = {
    "unsubscribe.one_click": _one_click,
    "email.sent": _sent,
    "email.delivered": _delivered,
    "email.delivery_delayed": _delayed,
    "email.bounced": _bounced,
    "email.suppressed": _bounced,
    "email.complained": _complained,
    "email.failed": _failed,
    "email.received": _received,
}


def _public(result: Classification) -> dict[str, Any]:
    """The classification kept on the inbox row: the decision, never the reply's text or addresses."""
    data = result.as_json()
    data.pop("referral_to", None)
    data.pop("signal", None)
    return data

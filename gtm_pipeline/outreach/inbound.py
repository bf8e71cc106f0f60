"""Provider events in, state machine out.

``ingest`` runs inside the webhook receiver, before it answers: it stores the event once
(keyed by ``svix-id``) and applies what compliance decides at once - complaint, hard
bounce, provider suppression, and a reply that says stop - to the suppression list.
Since the suppression list is the last gate of every send, nothing can go out to that
address from that moment, whatever the state of the rest of the pipeline.

``process`` runs later (the ``conversation`` asset, launched by the inbox sensor, or
``gtm inbox process``): it turns each stored event into at most one transition, marks
the row processed exactly once, and journals what it decided and why. A bounce or an
auto-reply is never a reply; an out-of-office pauses the sequence until its return date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gtm_pipeline.config.model import PrivacySettings
from gtm_pipeline.domain.ids import email_hash
from gtm_pipeline.domain.states import Event, State
from gtm_pipeline.outreach.classify import Classification, classify, deterministic
from gtm_pipeline.outreach.mailparse import parse_mail
from gtm_pipeline.skills.catalog import SkillCatalog
from gtm_pipeline.skills.runner import SkillRunner
from gtm_pipeline.store.escalations import Escalations
from gtm_pipeline.store.outreach import InboxRow, OutreachLedger, Touch
from gtm_pipeline.store.repository import Store

ACTOR = "step:inbound@1"
COMPLIANCE_ACTOR = "rule:compliance@1"
Fetch = Callable[[str], dict[str, Any]]


def rfc822_from_received(email: dict[str, Any]) -> str:
    """A received email from Resend's receiving API as RFC 822 text, for the one parser."""
    headers = {str(k).lower(): str(v) for k, v in (email.get("headers") or {}).items()}
    headers.setdefault("from", str(email.get("from", "")))
    headers.setdefault("to", ", ".join(email.get("to") or []))
    headers.setdefault("subject", str(email.get("subject", "")))
    if email.get("message_id"):
        headers.setdefault("message-id", str(email["message_id"]))
    lines = [f"{name.title()}: {' '.join(value.splitlines())}" for name, value in headers.items()]
    lines.append("Content-Type: text/plain; charset=utf-8")
    body = email.get("text") or ""
    return "\n".join(lines) + "\n\n" + str(body)


def _touch_from_address(ledger: OutreachLedger, addresses: list[str]) -> Touch | None:
    for address in addresses:
        local = address.split("@", 1)[0]
        if "+" in local:
            found = ledger.touch(local.split("+", 1)[1])
            if found is not None:
                return found
    return None


def correlate(ledger: OutreachLedger, event: dict[str, Any]) -> Touch | None:
    """The touch an event is about: tags, the provider's email id, or the reply-to plus-address."""
    data = event.get("data") or {}
    tags = data.get("tags") or {}
    if isinstance(tags, list):
        tags = {t.get("name"): t.get("value") for t in tags if isinstance(t, dict)}
    if isinstance(tags, dict) and tags.get("touch_id"):
        found = ledger.touch(str(tags["touch_id"]))
        if found is not None:
            return found
    if event.get("type") != "email.received" and data.get("email_id"):
        found = ledger.touch_by_provider_id(str(data["email_id"]))
        if found is not None:
            return found
    if event.get("type") == "email.received":
        return _touch_from_address(ledger, [str(a).lower() for a in data.get("to") or []])
    return None


@dataclass(frozen=True)
class Ingested:
    event_id: int
    new: bool
    prospect_id: str | None
    suppressed: str | None = None


def _suppress(store: Store, reason: str, *identities: str | None) -> None:
    for identity in identities:
        if identity:
            store.suppress(identity, kind="prospect" if identity.startswith("p_") else "email", reason=reason)


def ingest(store: Store, event_key: str, event: dict[str, Any], fetch: Fetch | None) -> Ingested:
    """Store one verified event once and apply the compliance it carries, immediately."""
    ledger = OutreachLedger(store)
    touch = correlate(ledger, event)
    data = event.get("data") or {}
    kind = str(event.get("type"))
    event_id, new = ledger.add_event(
        event_key=event_key,
        event_type=kind,
        payload=event,
        prospect_id=touch.prospect_id if touch else None,
        touch_id=touch.touch_id if touch else None,
        provider_email_id=str(data.get("email_id")) if data.get("email_id") else None,
    )
    if not new:
        return Ingested(event_id, False, touch.prospect_id if touch else None)
    reason: str | None = None
    if kind == "email.complained":
        reason = "complaint"
    elif kind == "email.bounced" and str((data.get("bounce") or {}).get("type", "")).lower() == "permanent":
        reason = "hard_bounce"
    elif kind == "email.suppressed":
        reason = "provider_suppressed"
    elif kind == "email.received" and fetch is not None and data.get("email_id"):
        try:
            raw = rfc822_from_received(fetch(str(data["email_id"])))
        except Exception:  # the body is fetched again when the event is processed
            raw = None
        if raw is not None:
            mail = parse_mail(raw)
            # No plus-address on the reply (some clients drop Reply-To): thread by In-Reply-To / References.
            touch = touch or next(
                (found for mid in mail.thread_ids if (found := ledger.touch_by_message_id(mid)) is not None),
                None,
            )
            ledger.set_raw_message(
                event_id, raw, touch.prospect_id if touch else None, touch.touch_id if touch else None
            )
            decided = deterministic(mail, (mail.date or store.now()).date())
            if decided is not None and decided.category in ("unsubscribe", "complaint"):
                reason = "reply_" + decided.category
                _suppress(store, reason, email_hash(mail.from_address) if "@" in mail.from_address else None)
            elif decided is not None and decided.category == "bounce" and decided.hard_bounce:
                reason = "hard_bounce"
    if reason is not None and touch is not None:
        _suppress(store, reason, touch.to_hash, touch.prospect_id if reason != "hard_bounce" else None)
    return Ingested(event_id, True, touch.prospect_id if touch else None, reason)


def one_click_unsubscribe(store: Store, touch: Touch, *, via: str) -> Ingested:
    """RFC 8058 one-click (or the confirmation page): suppress now, journal through the inbox."""
    _suppress(store, "unsubscribe", touch.to_hash, touch.prospect_id)
    event = {"type": "unsubscribe.one_click", "data": {"touch_id": touch.touch_id, "via": via}}
    event_id, new = OutreachLedger(store).add_event(
        event_key=f"unsubscribe:{touch.touch_id}",
        event_type="unsubscribe.one_click",
        payload=event,
        prospect_id=touch.prospect_id,
        touch_id=touch.touch_id,
        provider_email_id=None,
    )
    return Ingested(event_id, new, touch.prospect_id, "unsubscribe")


# ---------------------------------------------------------------- processing

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
}


@dataclass
class Processor:
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
        return OutreachLedger(self.store)

    def process(
        self, prospect_ids: list[str] | None = None, now: dt.datetime | None = None
    ) -> list[dict[str, Any]]:
        """Process every new event (of ``prospect_ids`` when given); returns the outcomes."""
        at = now or self.store.now()
        rows = (
            self.ledger.pending_events()
            if prospect_ids is None
            else [row for pid in prospect_ids for row in self.ledger.pending_events(pid)]
        )
        outcomes = []
        for row in sorted(rows, key=lambda r: r.id):
            outcome = self._one(row, at)
            prospect_id = outcome.pop("prospect_id", row.prospect_id)
            if outcome["status"] == "unmatched":
                Escalations(self.store).raise_(
                    "unmatched_event",
                    f"inbox:{row.id}",
                    subject=None,
                    detail=f"inbox event #{row.id} ({row.event_type}) matched no touch",
                )
            if self.ledger.finish_event(row.id, outcome.pop("status"), outcome, at):
                outcomes.append({"event_id": row.id, "prospect_id": prospect_id, **outcome})
        return outcomes

    def _apply(self, row: InboxRow, event: Event, why: str, details: dict[str, Any], at: dt.datetime) -> str:
        decision = self.store.apply_event(
            str(row.prospect_id),
            event,
            actor=ACTOR,
            rationale=why,
            details={"inbox_event": row.id, "touch_id": row.touch_id, **details},
            now=at,
            run_id=self.run_id,
        )
        return decision.to_state.value if decision.allowed else f"rejected:{decision.from_state.value}"

    def _state(self, row: InboxRow) -> State | None:
        prospect = self.store.get_prospect(str(row.prospect_id))
        return prospect.state if prospect else None

    def _one(self, row: InboxRow, at: dt.datetime) -> dict[str, Any]:
        if row.event_type == "email.received" and row.prospect_id is None:
            row = self._late_correlate(row)
            if row.prospect_id is not None:
                return {**self._reply(row, at), "prospect_id": row.prospect_id}
        if row.prospect_id is None:
            return {"status": "unmatched", "note": "no touch matches this event"}
        kind = row.event_type
        data = (row.payload or {}).get("data") or {}
        touch = self.ledger.touch(row.touch_id) if row.touch_id else None
        state = self._state(row)
        if kind == "unsubscribe.one_click":
            return {
                "status": "processed",
                "to": self._apply(row, Event.UNSUBSCRIBED, "one-click unsubscribe", {}, at),
            }
        if kind == "email.sent":
            if touch is not None and touch.status in ("pending", "uncertain") and data.get("email_id"):
                self.ledger.mark_sent(
                    touch,
                    str(data["email_id"]),
                    actor=ACTOR,
                    rationale="settled by Resend's email.sent",
                    at=at,
                )
                return {"status": "processed", "note": "ledger settled from email.sent"}
            return {"status": "processed", "note": "confirmation"}
        if kind == "email.delivered":
            if touch is not None:
                self.ledger.mark_outcome(touch.touch_id, "delivered_at", at)
            if state is State.SENT:
                return {
                    "status": "processed",
                    "to": self._apply(row, Event.DELIVERED, "Resend: delivered", {}, at),
                }
            return {"status": "processed", "note": f"delivered (state {state.value if state else '?'})"}
        if kind == "email.delivery_delayed":
            if state is State.SENT:
                return {
                    "status": "processed",
                    "to": self._apply(row, Event.DELIVERY_DELAYED, "Resend: delayed", {}, at),
                }
            return {"status": "processed", "note": "delayed"}
        if kind in ("email.bounced", "email.suppressed"):
            hard = (
                kind == "email.suppressed"
                or str((data.get("bounce") or {}).get("type", "")).lower() == "permanent"
            )
            if touch is not None and hard:
                self.ledger.mark_outcome(touch.touch_id, "bounced_at", at)
            if hard:
                return {
                    "status": "processed",
                    "to": self._apply(row, Event.HARD_BOUNCED, f"Resend: {kind}", {}, at),
                }
            if state is State.SENT:
                return {
                    "status": "processed",
                    "to": self._apply(row, Event.SOFT_BOUNCED, "Resend: soft bounce", {}, at),
                }
            return {"status": "processed", "note": "soft bounce"}
        if kind == "email.complained":
            if touch is not None:
                self.ledger.mark_outcome(touch.touch_id, "complained_at", at)
            return {
                "status": "processed",
                "to": self._apply(row, Event.COMPLAINED, "Resend: complaint", {}, at),
            }
        if kind == "email.failed":
            if touch is not None and touch.status != "sent":
                self.ledger.set_status(touch.touch_id, "failed", "Resend: email.failed")
            return {"status": "processed", "note": "failed"}
        if kind == "email.received":
            return self._reply(row, at)
        return {"status": "processed", "note": f"recorded ({kind})"}

    def _raw(self, row: InboxRow) -> str | None:
        if row.raw_message:
            return row.raw_message
        email_id = ((row.payload or {}).get("data") or {}).get("email_id")
        if self.fetch is None or not email_id:
            return None
        raw = rfc822_from_received(self.fetch(str(email_id)))
        self.ledger.set_raw_message(row.id, raw, row.prospect_id, row.touch_id)
        return raw

    def _late_correlate(self, row: InboxRow) -> InboxRow:
        """Thread an unmatched reply by In-Reply-To / References against the ledger's Message-IDs."""
        raw = self._raw(row)
        if raw is None:
            return row
        for mid in parse_mail(raw).thread_ids:
            touch = self.ledger.touch_by_message_id(mid)
            if touch is not None:
                self.ledger.set_raw_message(row.id, raw, touch.prospect_id, touch.touch_id)
                return InboxRow(
                    **{
                        **row.__dict__,
                        "prospect_id": touch.prospect_id,
                        "touch_id": touch.touch_id,
                        "raw_message": raw,
                    }
                )
        return row

    def _reply(self, row: InboxRow, at: dt.datetime) -> dict[str, Any]:
        raw = self._raw(row)
        if raw is None:
            return {"status": "new"} if self.fetch is None else {"status": "unmatched", "note": "no body"}
        mail = parse_mail(raw)
        received_at = mail.date or row.received_at
        result = classify(
            mail,
            received_at,
            catalog=self.catalog,
            runner=self.runner,
            subject=str(row.prospect_id),
            prospect_id=row.prospect_id,
        )
        outcome: dict[str, Any] = {"status": "processed", **_public(result)}
        if result.category in ("unsubscribe", "complaint") and "@" in mail.from_address:
            _suppress(self.store, f"reply_{result.category}", email_hash(mail.from_address))
        if result.erasure_requested:
            self.store.record_rights_request(
                kind="erasure",
                subject_hash=email_hash(mail.from_address) if "@" in mail.from_address else "",
                prospect_id=row.prospect_id,
                received_at=at,
                response_days=self.response_days,
            )
        if result.category == "bounce":
            event = Event.HARD_BOUNCED if result.hard_bounce else Event.SOFT_BOUNCED
            if result.hard_bounce or self._state(row) is State.SENT:
                outcome["to"] = self._apply(row, event, f"bounce ({result.decided_by})", {}, at)
            return outcome
        if result.category == "auto_reply":
            outcome["note"] = "automatic reply: never a reply, never answered"
            return outcome
        event = _REPLY_EVENTS[result.category]
        details: dict[str, Any] = {"category": result.category, "decided_by": result.decided_by}
        if result.category == "out_of_office" and result.resume_on:
            details["resume_on"] = result.resume_on.isoformat()
        if result.category == "not_now":
            details["revisit_on"] = result.revisit_on.isoformat() if result.revisit_on else None
            details["signal"] = result.signal
        if result.referral_to:
            details["referral_to"] = result.referral_to
        outcome["to"] = self._apply(
            row, event, f"reply: {result.category} ({result.decided_by})", details, at
        )
        return outcome


def _public(result: Classification) -> dict[str, Any]:
    """The outcome kept on the inbox row: the decision, never the reply's text or addresses."""
    data = result.as_json()
    data.pop("referral_to", None)
    data.pop("signal", None)
    return data

"""The send step: approved drafts become touches in the ledger, then go out under the policy.

1. ``schedule``: each approved prospect gets its next touch written to the outbox (the exact
   request, its idempotency key, its Message-ID) and moves to ``scheduled``.
2. ``send``: each pending touch is checked against the deliverability policy; the
   suppression list is read once more immediately before the provider call; the provider
   answer and the SENT transition are stored in one transaction.

A crash after the provider accepted but before the ledger was updated leaves the touch
pending; the next run repeats the *same* request with the *same* key and Resend returns
the original message. Past the provider's idempotency window the ledger never guesses:
the touch becomes ``uncertain`` and waits for the operator (or for the provider's
``email.sent`` webhook, which settles it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from resend.exceptions import ResendError

from gtm_pipeline.domain.contracts import DraftFinding, result_model
from gtm_pipeline.domain.ids import email_hash
from gtm_pipeline.domain.states import Event, State
from gtm_pipeline.outreach.compose import TouchPlan, build_request, message_id
from gtm_pipeline.outreach.policy import SendContext, check, health_halt
from gtm_pipeline.outreach.resend_client import RETRYABLE, concurrent
from gtm_pipeline.outreach.settings import SendingSettings
from gtm_pipeline.store import Store
from gtm_pipeline.store.ledger import OutreachLedger, Touch

ACTOR = "step:send@1"
POLICY_ACTOR = "rule:deliverability@1"


class Sender(Protocol):
    def send(self, params: dict[str, object], idempotency_key: str) -> str: ...


@dataclass(frozen=True)
class SendReport:
    """What happened to one touch in one run (ids and rules only)."""

    prospect_id: str
    touch_id: str
    outcome: str  # sent | deferred | refused | failed | cancelled | uncertain | retry
    rule: str
    reason: str


def approved_artifact(store: Store, prospect_id: str) -> str | None:
    """The draft the newest approval approved (operator review or dark-factory mode)."""
    for entry in reversed(store.journal.entries(prospect_id)):
        if entry.kind == "transition" and entry.payload.get("to_state") == State.APPROVED.value:
            found = entry.payload.get("artifact_id") or entry.payload.get("draft_artifact")
            return str(found) if found else None
    return None


def _source_url(store: Store, prospect_id: str, to_email: str) -> str | None:
    """Where the notice says the address was found: the addressee's own record (an imported list,
    a company page) when there is one, else the first source fetched for the company."""
    digest = email_hash(to_email)
    for contact in store.contacts.of(prospect_id):
        if contact.email_hash == digest and contact.source:
            if contact.source_kind == "import":
                return f"a contact list we imported ({contact.source})"
            return contact.source
    sources = store.artifacts.of_kind(prospect_id, "raw_source")
    return sources[0].url if sources else None


def schedule(
    store: Store, ledger: OutreachLedger, settings: SendingSettings, now: dt.datetime
) -> list[SendReport]:
    """Write the next touch of every approved prospect to the outbox and mark it scheduled."""
    reports = []
    for prospect in store.prospects.find(states=[State.APPROVED]):
        touches = ledger.touches(prospect.id)
        open_touch = next((t for t in touches if t.status == "pending"), None)
        if open_touch is None:
            artifact_id = approved_artifact(store, prospect.id)
            artifact = store.artifacts.get(artifact_id) if artifact_id else None
            if artifact is None or not artifact.content or not prospect.contact_email:
                why = "no approved draft" if artifact is None else "no contact address"
                store.journal.append(
                    subject=prospect.id,
                    kind="send_refused",
                    actor=POLICY_ACTOR,
                    payload={"rule": "policy:no-draft-or-address", "reason": why},
                    dedupe_key=f"send-refused:{prospect.id}:{artifact_id}",
                )
                reports.append(SendReport(prospect.id, "", "refused", "policy:no-draft-or-address", why))
                continue
            draft = result_model(DraftFinding).model_validate_json(artifact.content).finding
            sent = [t for t in touches if t.status == "sent"]
            first_subject = sent[0].payload.get("subject", draft.subject) if sent else draft.subject
            plan = TouchPlan(
                prospect_id=prospect.id,
                touch_number=len(touches) + 1,
                artifact_id=artifact.id,
                to_email=prospect.contact_email,
                subject=str(first_subject),
                body=draft.body,
                company_name=prospect.company_name,
                source_url=_source_url(store, prospect.id, prospect.contact_email),
                previous_message_ids=tuple(t.message_id for t in sent),
            )
            open_touch = ledger.open_touch(
                Touch(
                    touch_id=plan.touch_id,
                    prospect_id=prospect.id,
                    touch_number=plan.touch_number,
                    idempotency_key=plan.idempotency_key,
                    message_id=message_id(plan, settings),
                    artifact_id=artifact.id,
                    mailbox=settings.mailbox,
                    sending_domain=settings.sending_domain,
                    to_hash=email_hash(prospect.contact_email),
                    payload=build_request(plan, settings),
                    status="pending",
                    provider_email_id=None,
                    attempts=0,
                    created_at=now,
                    sent_at=None,
                )
            )
        store.prospects.apply_event(
            prospect.id,
            Event.SEND_SCHEDULED,
            actor=ACTOR,
            rationale=f"touch {open_touch.touch_number} written to the outbox",
            details={"touch_id": open_touch.touch_id, "artifact_id": open_touch.artifact_id},
            now=now,
        )
        reports.append(
            SendReport(prospect.id, open_touch.touch_id, "scheduled", "step:schedule", "in outbox")
        )
    return reports


def check_domain_health(store: Store, ledger: OutreachLedger, settings: SendingSettings) -> str | None:
    """Halt the sending domain when its recent bounce or complaint rate passes the thresholds."""
    domain = settings.sending_domain
    halted = ledger.halt(domain)
    if halted is not None:
        return str(halted.payload.get("reason"))
    sends, bounces, complaints = ledger.domain_health(
        domain, settings.health_window, ledger.last_resume(domain)
    )
    reason = health_halt(sends, bounces, complaints, settings)
    if reason is not None:
        entry = store.journal.append(
            subject=f"sender:{domain}",
            kind="sending_halted",
            actor=POLICY_ACTOR,
            payload={"reason": reason, "sends": sends, "bounces": bounces, "complaints": complaints},
        )
        store.escalations.raise_(
            "domain_halt", f"halt:{domain}:{entry}", subject=domain, detail=f"sending halted: {reason}"
        )
    return reason


def resume_domain(store: Store, domain: str, *, actor: str, reason: str) -> None:
    """An operator lifts a halt (journaled)."""
    store.journal.append(
        subject=f"sender:{domain}", kind="sending_resumed", actor=actor, payload={"reason": reason}
    )


def _note(store: Store, touch: Touch, kind: str, rule: str, reason: str, now: dt.datetime) -> None:
    if kind in ("send_failed", "send_uncertain"):
        store.escalations.raise_(
            "touch_failed" if kind == "send_failed" else "touch_uncertain",
            f"{kind}:{touch.touch_id}",
            subject=touch.prospect_id,
            detail=f"touch {touch.touch_number} ({touch.touch_id}): {rule}: {reason[:300]}",
        )
    store.journal.append(
        subject=touch.prospect_id,
        kind=kind,
        actor=POLICY_ACTOR,
        payload={"touch_id": touch.touch_id, "rule": rule, "reason": reason},
        dedupe_key=f"{kind}:{touch.touch_id}:{rule}:{now.date().isoformat()}",
    )


def _context(
    store: Store,
    ledger: OutreachLedger,
    settings: SendingSettings,
    touch: Touch,
    now: dt.datetime,
    halted: str | None,
) -> SendContext:
    prospect = store.prospects.get(touch.prospect_id)
    assert prospect is not None
    artifact = store.artifacts.get(touch.artifact_id)
    day_start = dt.datetime.combine(now.date(), dt.time(), tzinfo=dt.UTC)
    previous = [t.sent_at for t in ledger.touches(touch.prospect_id) if t.sent_at is not None]
    return SendContext(
        now=now,
        recipient_timezone=prospect.contact_timezone,
        blocked_artifact=bool(artifact is None or artifact.meta.get("blocked")),
        domain_halted=halted,
        pending_inbound=ledger.pending_count(touch.prospect_id),
        last_touch_at=max(previous) if previous else None,
        mailbox_sent_today=ledger.sent_since(day_start, mailbox=touch.mailbox),
        domain_sent_today=ledger.sent_since(day_start, domain=touch.sending_domain),
        mailbox_cap_today=settings.warmup_cap(ledger.first_send(touch.sending_domain), now),
        suppressed=store.privacy.suppression_reason(touch.to_hash, touch.prospect_id),
    )


def _refuse(
    store: Store, ledger: OutreachLedger, touch: Touch, rule: str, reason: str, now: dt.datetime
) -> None:
    ledger.set_status(touch.touch_id, "refused", reason)
    _note(store, touch, "send_refused", rule, reason, now)
    if rule == "policy:suppression":
        store.prospects.apply_event(
            touch.prospect_id,
            Event.DO_NOT_CONTACT_REQUESTED,
            actor=POLICY_ACTOR,
            rationale=f"send refused: {reason}",
            details={"touch_id": touch.touch_id},
            now=now,
        )


def send_pending(
    store: Store, ledger: OutreachLedger, settings: SendingSettings, client: Sender, now: dt.datetime
) -> list[SendReport]:
    """Send every pending touch the policy allows now; nothing at all while sending is switched off."""
    reports: list[SendReport] = []
    if not ledger.sending_on():
        return reports
    halted = check_domain_health(store, ledger, settings)
    for touch in ledger.touches_with_status("pending"):
        prospect = store.prospects.get(touch.prospect_id)
        if prospect is None or prospect.state is not State.SCHEDULED:
            state = prospect.state.value if prospect else "missing"
            ledger.set_status(touch.touch_id, "cancelled", f"prospect is {state}")
            _note(store, touch, "send_cancelled", "policy:state", f"prospect is {state}", now)
            reports.append(SendReport(touch.prospect_id, touch.touch_id, "cancelled", "policy:state", state))
            continue
        if touch.attempts and now - touch.created_at > dt.timedelta(hours=settings.ledger_trust_hours):
            why = "attempted before, now past the provider's idempotency window: not resent blindly"
            ledger.set_status(touch.touch_id, "uncertain", why)
            _note(store, touch, "send_uncertain", "policy:idempotency-window", why, now)
            reports.append(
                SendReport(prospect.id, touch.touch_id, "uncertain", "policy:idempotency-window", why)
            )
            continue
        verdict = check(_context(store, ledger, settings, touch, now, halted), settings)
        if verdict.outcome == "defer":
            _note(store, touch, "send_deferred", verdict.rule, verdict.reason, now)
            reports.append(SendReport(prospect.id, touch.touch_id, "deferred", verdict.rule, verdict.reason))
            continue
        if verdict.outcome == "refuse":
            _refuse(store, ledger, touch, verdict.rule, verdict.reason, now)
            reports.append(SendReport(prospect.id, touch.touch_id, "refused", verdict.rule, verdict.reason))
            continue
        # The switch, read again before every call: a stop during a pass stops the very next email.
        if not ledger.sending_on():
            break
        # The last gate, read again right before the call: nothing suppressed since can slip through.
        last = store.privacy.suppression_reason(touch.to_hash, touch.prospect_id)
        if last is not None:
            _refuse(store, ledger, touch, "policy:suppression", f"address suppressed: {last}", now)
            reports.append(SendReport(prospect.id, touch.touch_id, "refused", "policy:suppression", last))
            continue
        ledger.record_attempt(touch.touch_id, None)
        try:
            email_id = client.send(dict(touch.payload), touch.idempotency_key)
        except ResendError as exc:
            code = str(exc.code)
            error = f"{code} {exc.error_type}: {exc.message}"[:300]
            if code in RETRYABLE or concurrent(exc):
                # Transient, or another process is sending this very touch: it stays pending, and
                # the next pass gets the provider's answer for its key (never a second email).
                ledger.record_attempt(touch.touch_id, error)
                reports.append(SendReport(prospect.id, touch.touch_id, "retry", "provider:transient", error))
            else:
                ledger.set_status(touch.touch_id, "failed", error)
                _note(store, touch, "send_failed", f"provider:{code}", error, now)
                reports.append(SendReport(prospect.id, touch.touch_id, "failed", f"provider:{code}", error))
            continue
        ledger.mark_sent(
            touch, email_id, actor=ACTOR, rationale=f"touch {touch.touch_number} accepted by Resend", at=now
        )
        reports.append(SendReport(prospect.id, touch.touch_id, "sent", verdict.rule, verdict.reason))
    return reports


def run_sending(
    store: Store, settings: SendingSettings, client: Sender, now: dt.datetime
) -> list[SendReport]:
    """Schedule approved drafts, then send what the policy allows."""
    ledger = store.ledger
    return [*schedule(store, ledger, settings, now), *send_pending(store, ledger, settings, client, now)]

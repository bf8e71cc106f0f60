"""The send step: approved drafts become touches in the ledger, then go out under the policy.

1. ``schedule``: each approved prospect gets its next touch written to the outbox (the exact
   request, its idempotency key, its Message-ID) and moves to ``scheduled``.
2. ``send``: each pending touch is checked against the deliverability policy; the
   suppression list is read once more immediately before the provider call; the provider
   answer and the SENT transition are stored in one transaction.

Two passes at once (a schedule tick overlapping ``gtm send``, two daemons) share the work
instead of racing for it: a pass claims each touch in the ledger before looking at it and acts
only on the touches it claimed, and it schedules a prospect only while it is still approved.
So each touch is sent, refused or deferred by one pass, and journaled once.

A crash after the provider accepted but before the ledger was updated leaves the touch
claimed; once the claim is past its lease the next run repeats the *same* request with the
*same* key and Resend returns the original message. Past the provider's idempotency window
the ledger never guesses: the touch becomes ``uncertain`` and waits for the operator (or for
the provider's ``email.sent`` webhook, which settles it).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from resend.exceptions import ResendError

from gtm_pipeline.domain.contracts import DraftFinding, result_model
from gtm_pipeline.domain.ids import email_hash, legacy_email_hashes
from gtm_pipeline.domain.states import Event, State
from gtm_pipeline.outreach.compose import TouchPlan, build_request, message_id
from gtm_pipeline.outreach.policy import SendContext, check, health_halt
from gtm_pipeline.outreach.resend_client import RETRYABLE, concurrent
from gtm_pipeline.outreach.settings import SendingSettings
from gtm_pipeline.store import Store
from gtm_pipeline.store.claims import claimer
from gtm_pipeline.store.ledger import SENDING, OutreachLedger, Touch

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
        open_touch = next((t for t in touches if t.status in ("pending", SENDING)), None)
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
        scheduled = store.prospects.apply_if(
            prospect.id,
            State.APPROVED,
            Event.SEND_SCHEDULED,
            actor=ACTOR,
            rationale=f"touch {open_touch.touch_number} written to the outbox",
            details={"touch_id": open_touch.touch_id, "artifact_id": open_touch.artifact_id},
            now=now,
        )
        if scheduled is None:
            continue  # another pass scheduled it first (same touch: open_touch is idempotent)
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
    # Touches other passes hold count against today's caps: each pass claims before it checks, so
    # of passes sending at once the later ones see the earlier ones' emails and no cap is overrun.
    others = [t for t in ledger.touches_with_status(SENDING) if t.touch_id != touch.touch_id]
    return SendContext(
        now=now,
        recipient_timezone=prospect.contact_timezone,
        blocked_artifact=bool(artifact is None or artifact.meta.get("blocked")),
        domain_halted=halted,
        pending_inbound=store.inbox.pending_count(touch.prospect_id),
        last_touch_at=max(previous) if previous else None,
        mailbox_sent_today=ledger.sent_since(day_start, mailbox=touch.mailbox)
        + sum(t.mailbox == touch.mailbox for t in others),
        domain_sent_today=ledger.sent_since(day_start, domain=touch.sending_domain)
        + sum(t.sending_domain == touch.sending_domain for t in others),
        mailbox_cap_today=settings.warmup_cap(ledger.first_send(touch.sending_domain), now),
        suppressed=store.privacy.suppression_reason(*_identities(touch)),
    )


@dataclass(frozen=True)
class _Pass:
    """One send pass: what every touch it handles needs, and the name its claims carry."""

    store: Store
    ledger: OutreachLedger
    settings: SendingSettings
    client: Sender
    now: dt.datetime
    halted: str | None
    claimer: str

    def settle(self, touch: Touch, status: str, kind: str, rule: str, reason: str) -> bool:
        """End a claimed touch as ``status`` and journal why; nothing is journaled unless this pass
        still held it (a pass whose claim was taken over never writes a false outcome)."""
        if not self.ledger.set_status(
            touch.touch_id, status, reason, expected=(SENDING,), claimer=self.claimer
        ):
            return False
        _note(self.store, touch, kind, rule, reason, self.now)
        return True


def _refuse(run: _Pass, touch: Touch, rule: str, reason: str) -> SendReport | None:
    if not run.settle(touch, "refused", "send_refused", rule, reason):
        return None
    if rule == "policy:suppression":
        run.store.prospects.apply_event(
            touch.prospect_id,
            Event.DO_NOT_CONTACT_REQUESTED,
            actor=POLICY_ACTOR,
            rationale=f"send refused: {reason}",
            details={"touch_id": touch.touch_id},
            now=run.now,
        )
    return SendReport(touch.prospect_id, touch.touch_id, "refused", rule, reason)


def _send_claimed(run: _Pass, touch: Touch) -> SendReport | None:
    """Everything one claimed touch needs, by the one pass that holds it. None: nothing to report
    (sending was switched off, or the claim was taken over meanwhile)."""
    store, ledger, now = run.store, run.ledger, run.now
    prospect = store.prospects.get(touch.prospect_id)
    if prospect is None or prospect.state is not State.SCHEDULED:
        state = prospect.state.value if prospect else "missing"
        if not run.settle(touch, "cancelled", "send_cancelled", "policy:state", f"prospect is {state}"):
            return None
        return SendReport(touch.prospect_id, touch.touch_id, "cancelled", "policy:state", state)
    if touch.attempts and now - touch.created_at > dt.timedelta(hours=run.settings.ledger_trust_hours):
        why = "attempted before, now past the provider's idempotency window: not resent blindly"
        if not run.settle(touch, "uncertain", "send_uncertain", "policy:idempotency-window", why):
            return None
        return SendReport(prospect.id, touch.touch_id, "uncertain", "policy:idempotency-window", why)
    verdict = check(_context(store, ledger, run.settings, touch, now, run.halted), run.settings)
    if verdict.outcome == "defer":
        ledger.release_touch(touch.touch_id, run.claimer)
        _note(store, touch, "send_deferred", verdict.rule, verdict.reason, now)
        return SendReport(prospect.id, touch.touch_id, "deferred", verdict.rule, verdict.reason)
    if verdict.outcome == "refuse":
        return _refuse(run, touch, verdict.rule, verdict.reason)
    # The last gate, read again right before the call: nothing suppressed since can slip through.
    last = store.privacy.suppression_reason(*_identities(touch))
    if last is not None:
        return _refuse(run, touch, "policy:suppression", f"address suppressed: {last}")
    # The switch, read again before every call: a stop during a pass stops the very next email. And
    # the claim, checked as the attempt is counted: a pass whose claim was taken over calls nothing.
    if not ledger.sending_on() or not ledger.record_attempt(touch.touch_id, run.claimer):
        ledger.release_touch(touch.touch_id, run.claimer)
        return None
    try:
        email_id = run.client.send(dict(touch.payload), touch.idempotency_key)
    except ResendError as exc:
        code = str(exc.code)
        error = f"{code} {exc.error_type}: {exc.message}"[:300]
        if code in RETRYABLE or concurrent(exc):
            # Transient, or Resend still answering an earlier request with this key (a pass that
            # took over a dead one's claim): back to pending, and the next pass gets the provider's
            # answer for its key (never a second email, never a failure).
            ledger.release_touch(touch.touch_id, run.claimer, error)
            return SendReport(prospect.id, touch.touch_id, "retry", "provider:transient", error)
        if not run.settle(touch, "failed", "send_failed", f"provider:{code}", error):
            return None
        return SendReport(prospect.id, touch.touch_id, "failed", f"provider:{code}", error)
    ledger.mark_sent(
        touch, email_id, actor=ACTOR, rationale=f"touch {touch.touch_number} accepted by Resend", at=now
    )
    return SendReport(prospect.id, touch.touch_id, "sent", verdict.rule, verdict.reason)


def send_pending(
    store: Store, ledger: OutreachLedger, settings: SendingSettings, client: Sender, now: dt.datetime
) -> list[SendReport]:
    """Send every pending touch the policy allows now; nothing at all while sending is switched off.

    Each touch is claimed before anything is decided about it, so of two passes at once only one
    cancels, refuses, defers or sends it; a touch another live pass holds is left to that pass."""
    reports: list[SendReport] = []
    if not ledger.sending_on():
        return reports
    run = _Pass(store, ledger, settings, client, now, check_domain_health(store, ledger, settings), claimer())
    for listed in ledger.touches_with_status("pending", SENDING):
        if not ledger.sending_on():
            break
        touch = ledger.claim_touch(listed.touch_id, run.claimer, at=now)
        if touch is None:
            continue  # another pass holds it, or settled it since the list was read
        try:
            report = _send_claimed(run, touch)
        except BaseException:
            # This pass is stopping: hand the touch back now rather than after the lease (the
            # next pass repeats the request with the same key, so an email accepted is not resent).
            with contextlib.suppress(Exception):
                ledger.release_touch(touch.touch_id, run.claimer, "the send pass stopped")
            raise
        if report is not None:
            reports.append(report)
    return reports


def run_sending(
    store: Store, settings: SendingSettings, client: Sender, now: dt.datetime
) -> list[SendReport]:
    """Schedule approved drafts, then send what the policy allows."""
    ledger = store.ledger
    return [*schedule(store, ledger, settings, now), *send_pending(store, ledger, settings, client, now)]


def _identities(touch: Touch) -> list[str]:
    """What a suppression of this touch's addressee may be recorded under: the address's hash, the
    prospect, and the hash an IDN address had before IDNA2008 (:func:`legacy_email_hashes`)."""
    recipients = touch.payload.get("to") or []
    legacy = [h for address in recipients if isinstance(address, str) for h in legacy_email_hashes(address)]
    return [touch.to_hash, touch.prospect_id, *legacy]

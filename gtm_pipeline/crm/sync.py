"""The CRM passes: push positive conversations, read deal outcomes back, carry erasures out.

* :func:`push_pass`: a prospect whose journal holds a trigger (a positive reply, a booking: see
  :class:`~gtm_pipeline.config.crm.CrmSettings`) gets one ``crm_pushes`` row per CRM; a pending
  row is pushed (company by domain, contact by email, a note) unless the person is suppressed or
  erased, which is recorded on the row (``withheld``, with the reason) and never pushed. A failure
  stays on the row and is tried again next pass; after ``max_attempts`` it is given up and
  escalated. Each push is journaled on the prospect with the CRM's opaque ids.
* :func:`poll_deals`: every deal's stage is read; a stage mapped to won or lost on a company the
  pipeline pushed becomes ``deal_won`` / ``deal_lost`` through the transition table (journaled; a
  transition the table refuses is journaled as refused), once per deal and stage.
* :func:`erase_pass`: rows an erasure marked ``erase_due`` have their note and contact deleted, and
  the company when the pipeline created it and no other live push uses it; the outcome (ids and
  counts, no personal data) is kept on the row and journaled as the evidence; a failure is escalated.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from dataclasses import dataclass, field

import sqlalchemy as sa

from gtm_pipeline.config.crm import CrmSettings
from gtm_pipeline.crm.sink import CrmError, CrmSink
from gtm_pipeline.crm.summary import conversation_summary
from gtm_pipeline.domain.ids import email_hash, legacy_email_hashes
from gtm_pipeline.domain.states import Event
from gtm_pipeline.store import Store
from gtm_pipeline.store import schema as t
from gtm_pipeline.store.crm_pushes import (
    ERASE_DUE,
    ERASE_FAILED,
    GAVE_UP,
    PENDING,
    WITHHELD,
    CrmPush,
    CrmPushes,
    crm_pushes,
)

CRM_ACTOR = "system:crm"
ESCALATION_KIND = "crm_failed"
# States a prospect can be in once a conversation turned positive or a meeting was booked.
_AFTER_REPLY = ("replied", "meeting_booked", "meeting_held", "no_show", "won", "lost")
log = logging.getLogger(__name__)


@dataclass
class PassReport:
    """What one pass did: counts by outcome, and the prospects moved (opaque ids only)."""

    outcomes: Counter[str] = field(default_factory=Counter)
    prospects: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return dict(self.outcomes)


def trigger_of(entries_payloads: list[tuple[str, dict[str, object]]], triggers: list[str]) -> str | None:
    """The first trigger the journal holds: ``reply:<category>`` or ``meeting_booked``."""
    for kind, payload in entries_payloads:
        if kind != "transition" or not payload.get("allowed", True):
            continue
        event = payload.get("event")
        if event == Event.REPLY_RECEIVED.value:
            label = f"reply:{payload.get('category')}"
        elif event == Event.MEETING_BOOKED.value:
            label = "meeting_booked"
        else:
            continue
        if label in triggers:
            return label
    return None


def enqueue_triggered(store: Store, sink: CrmSink, settings: CrmSettings) -> int:
    """A pending row for each prospect past a reply with a trigger in its journal and no row yet."""
    p, c_ = t.prospects, crm_pushes
    unqueued = ~sa.exists().where(c_.c.prospect_id == p.c.id, c_.c.system == sink.name)
    query = (
        sa.select(p.c.id, p.c.contact_email_hash)
        .where(p.c.state.in_(_AFTER_REPLY), p.c.erased_at.is_(None), unqueued)
        .order_by(p.c.id)
    )
    with store.reading() as c:
        candidates = [(str(r.id), r.contact_email_hash) for r in c.execute(query)]
    pushes, added = CrmPushes(store), 0
    for pid, digest in candidates:
        trigger = trigger_of([(e.kind, e.payload) for e in store.journal.entries(pid)], settings.triggers)
        if trigger is not None:
            added += pushes.enqueue(pid, subject_hash=digest, system=sink.name, trigger=trigger)
    return added


def _withheld_reason(store: Store, push: CrmPush) -> str | None:
    """Why nothing may be pushed for this prospect's person, or None when it may."""
    prospect = store.prospects.get(push.prospect_id)
    if prospect is None or not prospect.contact_email:
        return "erased (or no contact left): nothing is pushed"
    # The same identities the send path checks: the address's hash, the prospect, and the hash an IDN
    # address had before IDNA2008 (a person suppressed under it is suppressed here too).
    identities = [email_hash(prospect.contact_email), *legacy_email_hashes(prospect.contact_email)]
    reason = store.privacy.suppression_reason(*identities, push.prospect_id)
    return f"suppressed ({reason}): nothing is pushed" if reason is not None else None


def _fail(
    store: Store,
    push: CrmPush,
    exc: CrmError,
    settings: CrmSettings,
    claimer: str,
    made: dict[str, str | bool | None],
) -> str:
    give_up = push.attempts + 1 >= settings.max_attempts
    if not CrmPushes(store).mark_failed(push.id, claimer, error=str(exc), give_up=give_up, **made):
        return "erased_meanwhile"
    if give_up:
        store.escalations.raise_(
            ESCALATION_KIND,
            f"crm:{push.system}:push:{push.id}",
            subject=push.prospect_id,
            detail=f"pushing to {push.system} failed {push.attempts + 1} time(s), given up: {exc}",
        )
        return GAVE_UP
    return "failed"


def push_pass(store: Store, sink: CrmSink, settings: CrmSettings, *, console_url: str) -> PassReport:
    """Queue what the triggers ask for, then push what is pending (see the module's docstring)."""
    report, pushes = PassReport(), CrmPushes(store)
    report.outcomes["queued"] += enqueue_triggered(store, sink, settings)
    claimer = f"crm-pass:{uuid.uuid4().hex[:12]}"
    for due in pushes.due(sink.name, limit=settings.max_per_pass):
        push = pushes.claim(due.id, claimer)
        if push is None:
            report.outcomes["claimed_elsewhere"] += 1
            continue
        reason = _withheld_reason(store, push)
        if reason is not None:
            pushes.mark_withheld(push.id, claimer, reason=reason)
            report.outcomes[WITHHELD] += 1
            continue
        prospect = store.prospects.get(push.prospect_id)
        if prospect is None or prospect.contact_email is None:  # erased since the check just above
            pushes.mark_withheld(push.id, claimer, reason="erased (or no contact left): nothing is pushed")
            report.outcomes[WITHHELD] += 1
            continue
        made: dict[str, str | bool | None] = {}
        try:
            company = sink.upsert_company(domain=prospect.company_domain, name=prospect.company_name)
            made.update(company_id=company.id, company_created=company.created or push.company_created)
            contact = sink.upsert_contact(
                email=prospect.contact_email,
                name=prospect.contact_name,
                role=prospect.contact_role,
                company_id=company.id,
            )
            made["contact_id"] = contact.id
            note = push.note_id or sink.add_note(
                conversation_summary(prospect, store.journal.entries(prospect.id), console_url=console_url),
                company_id=company.id,
                contact_id=contact.id,
            )
        except CrmError as exc:
            report.outcomes[_fail(store, push, exc, settings, claimer, made)] += 1
            continue
        settled = pushes.mark_pushed(
            push.id,
            claimer,
            company_id=company.id,
            company_created=bool(made["company_created"]),
            contact_id=contact.id,
            note_id=note,
        )
        if not settled:  # erased while in flight: what was created is due for deletion, not journaled
            report.outcomes["erased_meanwhile"] += 1
            continue
        store.journal.append(
            subject=prospect.id,
            kind="crm_pushed",
            actor=CRM_ACTOR,
            payload={
                "system": sink.name,
                "trigger": push.trigger,
                "company_id": company.id,
                "company_matched": not company.created,
                "contact_id": contact.id,
                "contact_matched": not contact.created,
                "note_id": note,
            },
        )
        report.outcomes["pushed"] += 1
        report.prospects.append(prospect.id)
    return report


def poll_deals(store: Store, sink: CrmSink, settings: CrmSettings) -> PassReport:
    """Deals in a won or lost stage on a pushed company (or naming a pushed contact) become journaled
    outcomes, once per deal and stage."""
    report, pushes = PassReport(), CrmPushes(store)
    by_company: dict[str, list[CrmPush]] = {}
    by_contact: dict[str, CrmPush] = {}
    for push in pushes.with_status(sink.name, ("pushed",), limit=100_000):
        if push.company_id:
            by_company.setdefault(push.company_id, []).append(push)
        if push.contact_id:
            by_contact[push.contact_id] = push
    if not by_company:
        return report
    for deal in sink.deal_stages():
        if deal.stage in settings.won_stages:
            event = Event.DEAL_WON
        elif deal.stage in settings.lost_stages:
            event = Event.DEAL_LOST
        else:
            continue
        # The deal's own contacts when it names ours; else every prospect pushed for its company.
        named = [by_contact[c] for c in deal.contact_ids if c in by_contact]
        targets = named or [p for company in deal.company_ids for p in by_company.get(company, [])]
        for push in targets:
            if push.deal_id == deal.deal_id and push.deal_stage == deal.stage:
                continue  # read before: one outcome per deal and stage
            if _journaled(store, push.prospect_id, deal.deal_id, deal.stage):
                # A company with several closed deals: the row keeps one, the journal has them all.
                pushes.mark_deal(push.id, deal_id=deal.deal_id, stage=deal.stage)
                continue
            decision = store.prospects.apply_event(
                push.prospect_id,
                event,
                actor=f"{CRM_ACTOR}:{sink.name}",
                rationale=f"{sink.name} deal {deal.deal_id} is in stage {deal.stage}",
                details={"system": sink.name, "deal_id": deal.deal_id, "dealstage": deal.stage},
            )
            pushes.mark_deal(push.id, deal_id=deal.deal_id, stage=deal.stage)
            report.outcomes[event.value if decision.allowed else f"{event.value}_refused"] += 1
            report.prospects.append(push.prospect_id)
    return report


def _journaled(store: Store, prospect_id: str, deal_id: str, stage: str) -> bool:
    """Whether this deal in this stage was already applied to the prospect (allowed or refused)."""
    return any(
        e.payload.get("deal_id") == deal_id and e.payload.get("dealstage") == stage
        for e in store.journal.entries(prospect_id)
    )


def erase_pass(store: Store, sink: CrmSink, settings: CrmSettings) -> PassReport:
    """Delete from the CRM what was pushed for erased people; keep the outcome as the evidence."""
    report, pushes = PassReport(), CrmPushes(store)
    for push in pushes.with_status(sink.name, (ERASE_DUE, ERASE_FAILED), limit=settings.max_per_pass):
        deleted: dict[str, str] = {}
        try:
            if push.note_id:
                deleted["note"] = "deleted" if sink.delete_note(push.note_id) else "already gone"
            if push.contact_id:
                deleted["contact"] = "deleted" if sink.delete_contact(push.contact_id) else "already gone"
            if push.company_id:
                if not push.company_created:
                    deleted["company"] = "kept (it was in the CRM before the pipeline)"
                elif pushes.others_sharing_company(sink.name, push.company_id, push.id):
                    deleted["company"] = "kept (another prospect's push uses it)"
                else:
                    deleted["company"] = "deleted" if sink.delete_company(push.company_id) else "already gone"
        except CrmError as exc:
            pushes.mark_erase_failed(push.id, error=str(exc))
            store.escalations.raise_(
                ESCALATION_KIND,
                f"crm:{push.system}:erase:{push.id}",
                subject=push.prospect_id,
                detail=f"an erasure could not delete what {push.system} holds (tried again each pass): {exc}",
            )
            report.outcomes[ERASE_FAILED] += 1
            continue
        outcome = "; ".join(f"{kind} {push_id_of(push, kind)} {what}" for kind, what in deleted.items())
        pushes.mark_erased(push.id, outcome=outcome)
        store.journal.append(
            subject=push.prospect_id,
            kind="crm_erased",
            actor=CRM_ACTOR,
            payload={"system": sink.name, "push_id": push.id, "deleted": deleted, "ids": _ids(push)},
        )
        report.outcomes["erased"] += 1
        report.prospects.append(push.prospect_id)
    return report


def push_id_of(push: CrmPush, kind: str) -> str:
    return str(_ids(push).get(kind, ""))


def _ids(push: CrmPush) -> dict[str, str]:
    ids = {"note": push.note_id, "contact": push.contact_id, "company": push.company_id}
    return {k: v for k, v in ids.items() if v}


def run_all(store: Store, sink: CrmSink, settings: CrmSettings, *, console_url: str) -> dict[str, int]:
    """One CRM pass: erasures first (an erased person's data leaves before anything else moves),
    then pushes, then the deal poll. A pass that cannot reach the CRM for the poll says so."""
    counts: Counter[str] = Counter()
    counts.update(erase_pass(store, sink, settings).outcomes)
    counts.update(push_pass(store, sink, settings, console_url=console_url).outcomes)
    try:
        counts.update(poll_deals(store, sink, settings).outcomes)
    except CrmError as exc:
        store.escalations.raise_(
            ESCALATION_KIND,
            f"crm:{sink.name}:poll:{store.now().date().isoformat()}",
            subject=None,
            detail=f"reading deal stages from {sink.name} failed (tried again next pass): {exc}",
        )
        counts["poll_failed"] += 1
    log.info("crm pass (%s): %s", sink.name, dict(counts))
    return dict(counts)


__all__ = ["PENDING", "PassReport", "enqueue_triggered", "erase_pass", "poll_deals", "push_pass", "run_all"]

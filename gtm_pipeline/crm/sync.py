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
* :func:`erase_pass`: rows an erasure marked ``erase_due`` are claimed (one pass carries each out;
  a dead pass's claim expires), then what the pipeline created is deleted: the note, the contact
  when the pipeline created it, the company when it created it and no other live push uses it, and
  whatever carries the push's key without its id on the row (a create whose answer was lost). The
  CRM's search is eventually consistent (HubSpot finds an object only seconds after its create), so
  for a push with a create whose answer was lost, an empty search proves nothing until
  :data:`SEARCH_SETTLE_SECONDS` have passed since the push's last create attempt: until then the
  erasure is left due, untouched, and the pass's report says why it waited; after it, a kind found
  nowhere is recorded as "none found by key after N s". A contact the team's CRM held before the
  push is never deleted (that would destroy the team's own record): only what the push added to it
  goes (the note, with its associations), and the operator is told, by an escalation, to carry out
  that part of the request in the CRM. The outcome (ids and words, no personal data) is kept on the
  row and journaled as the evidence; a failure is escalated.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import Counter
from dataclasses import dataclass, field

import sqlalchemy as sa

from gtm_pipeline.config.crm import CrmSettings
from gtm_pipeline.crm.sink import CrmError, CrmSink, push_key
from gtm_pipeline.crm.summary import conversation_summary
from gtm_pipeline.domain.ids import email_hash, legacy_email_hashes
from gtm_pipeline.domain.states import Event
from gtm_pipeline.store import Store
from gtm_pipeline.store import schema as t
from gtm_pipeline.store.crm_pushes import (
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
# The operator must finish an erasure in the CRM (a contact the team held before the push).
HANDOFF_KIND = "crm_erasure_handoff"
KINDS = ("note", "contact", "company")
_PLURAL = {"note": "notes", "contact": "contacts", "company": "companies"}
# States a prospect can be in once a conversation turned positive or a meeting was booked.
_AFTER_REPLY = ("replied", "meeting_booked", "meeting_held", "no_show", "won", "lost")
# How long after a create the CRM's search may still not find the object (HubSpot documents its
# search as eventually consistent, seconds in practice): before that, a search by the push's key that
# comes back empty is not proof that nothing carries it. Generous on purpose: an erasure waits at most
# this long (its deadline is days), while a short one would leave a person's record in the CRM.
SEARCH_SETTLE_SECONDS = 600
WAITING = "waiting_for_search_index"
log = logging.getLogger(__name__)


@dataclass
class PassReport:
    """What one pass did: counts by outcome, and the prospects moved (opaque ids only)."""

    outcomes: Counter[str] = field(default_factory=Counter)
    prospects: list[str] = field(default_factory=list)
    # Why a row was left for a later pass (push ids and words, no personal data).
    notes: list[str] = field(default_factory=list)

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
        key = push_key(push.prospect_id, push.id)
        made: dict[str, str | bool | None] = {}
        try:
            company = sink.upsert_company(domain=prospect.company_domain, name=prospect.company_name, key=key)
            made.update(company_id=company.id, company_created=company.created or push.company_created)
            contact = sink.upsert_contact(
                email=prospect.contact_email,
                name=prospect.contact_name,
                role=prospect.contact_role,
                company_id=company.id,
                key=key,
            )
            made.update(contact_id=contact.id, contact_created=contact.created or push.contact_created)
            # A note create whose answer was lost left a note tagged with the key: reuse it.
            lost = sink.find_tagged("notes", key) if push.maybe_created and not push.note_id else []
            note = push.note_id or (lost[0] if lost else None)
            note = note or sink.add_note(
                conversation_summary(prospect, store.journal.entries(prospect.id), console_url=console_url),
                company_id=company.id,
                contact_id=contact.id,
                key=key,
            )
        except CrmError as exc:
            if exc.maybe_written or push.maybe_created:  # sticky: the object may still be out there
                made["maybe_created"] = True
            report.outcomes[_fail(store, push, exc, settings, claimer, made)] += 1
            continue
        settled = pushes.mark_pushed(
            push.id,
            claimer,
            company_id=company.id,
            company_created=bool(made["company_created"]),
            contact_id=contact.id,
            contact_created=bool(made["contact_created"]),
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
    """Delete from the CRM what the pipeline created for erased people, hand over to the operator
    what it did not create, and keep the outcome as the evidence (see the module's docstring)."""
    report, pushes = PassReport(), CrmPushes(store)
    claimer = f"crm-erase:{uuid.uuid4().hex[:12]}"
    for due in pushes.erasable(sink.name, limit=settings.max_per_pass):
        push = pushes.claim_erasure(due.id, claimer)
        if push is None:
            report.outcomes["claimed_elsewhere"] += 1
            continue
        waited = _since_last_create(push, store.now())
        if _search_unsettled(push, waited):
            reason = _why_wait(push, waited)
            if pushes.mark_erase_waiting(push.id, claimer, reason=reason):
                report.outcomes[WAITING] += 1
                report.notes.append(f"{sink.name} push {push.id}: {reason}")
                log.info("crm erasure of push %s waits: %s", push.id, reason)
            else:
                report.outcomes["erase_requeued"] += 1
            continue
        try:
            done = _erase_one(pushes, sink, push, waited)
        except CrmError as exc:
            if pushes.mark_erase_failed(push.id, claimer, error=str(exc)):
                store.escalations.raise_(
                    ESCALATION_KIND,
                    f"crm:{push.system}:erase:{push.id}",
                    subject=push.prospect_id,
                    detail=(
                        f"an erasure could not delete what {push.system} holds (tried again each pass): {exc}"
                    ),
                )
            report.outcomes[ERASE_FAILED] += 1
            continue
        if done.kept_contact:  # raised first (once per key): a crash before the row settles keeps it
            _hand_over(store, push, done.kept_contact)
            report.outcomes["left_for_operator"] += 1
        outcome = "; ".join(
            " ".join(part for part in (kind, ",".join(done.ids.get(kind, [])), words) if part)
            for kind, words in done.words.items()
        )
        if not pushes.mark_erased(push.id, claimer, outcome=outcome):
            # A push that finished late put new ids on the row (due again), or our claim expired
            # and another pass took it: that pass records the outcome, once.
            report.outcomes["erase_requeued"] += 1
            continue
        payload: dict[str, object] = {
            "system": sink.name,
            "push_id": push.id,
            "deleted": done.words,
            "ids": {kind: ",".join(ids) for kind, ids in done.ids.items()},
        }
        if done.kept_contact:
            payload["left_for_operator"] = {"contact": done.kept_contact}
        store.journal.append(subject=push.prospect_id, kind="crm_erased", actor=CRM_ACTOR, payload=payload)
        report.outcomes["erased"] += 1
        report.prospects.append(push.prospect_id)
    return report


def _since_last_create(push: CrmPush, now: dt.datetime) -> int | None:
    """Whole seconds since the push's last create attempt (``pushed_at``), None when unknown."""
    if push.pushed_at is None:
        return None
    return max(0, int((now - push.pushed_at).total_seconds()))


def _search_unsettled(push: CrmPush, waited: int | None) -> bool:
    """Whether the CRM's search may still miss what this push created: the erasure relies on it (a
    create whose answer was lost, or a kind whose id the row lacks) and the push's last create
    attempt is too recent (or, for a lost answer, of unknown time)."""
    if push.maybe_created:
        return waited is None or waited < SEARCH_SETTLE_SECONDS
    lacking = not (push.note_id and push.contact_id and push.company_id)
    # ``pushed_at`` on a row lacking ids: an erasure overtook the push in flight (its pass may have died
    # mid-create); a row that failed on a clear refusal has none, and nothing to wait for.
    return lacking and waited is not None and waited < SEARCH_SETTLE_SECONDS


def _why_wait(push: CrmPush, waited: int | None) -> str:
    what = "a create whose answer was lost" if push.maybe_created else "a push the erasure overtook"
    since = "at an unrecorded time" if waited is None else f"{waited} s ago"
    return (
        f"waiting for the CRM's search index: {what} was sent {since}, and a search by the push's key"
        f" is trusted only {SEARCH_SETTLE_SECONDS} s after it (still due)"
    )


@dataclass
class _Erased:
    """What one erasure did, by kind: the CRM ids it reached and, in words, what became of them."""

    ids: dict[str, list[str]] = field(default_factory=dict)
    words: dict[str, str] = field(default_factory=dict)
    kept_contact: str | None = None  # the team's own contact, left for the operator

    def add(self, kind: str, object_id: str, what: str) -> None:
        self.ids.setdefault(kind, []).append(object_id)
        self.words[kind] = f"{self.words[kind]}; {what}" if kind in self.words else what


def _erase_one(pushes: CrmPushes, sink: CrmSink, push: CrmPush, waited: int | None) -> _Erased:
    """Delete what this push created. The ids on the row first; then, for a kind whose id the row
    lacks (or every kind, when a create's answer was lost), what carries the push's key. Called for a
    lost create only once the CRM's search can be trusted (``waited`` seconds since it was sent)."""
    done, key = _Erased(), push_key(push.prospect_id, push.id)
    known = {"note": push.note_id, "contact": push.contact_id, "company": push.company_id}
    tagged = {
        kind: [i for i in sink.find_tagged(_PLURAL[kind], key) if i != known[kind]]
        for kind in KINDS
        if push.maybe_created or not known[kind]
    }
    if waited is not None:  # the evidence says a kind was looked for, and when, though none was there
        for kind in KINDS:
            if not known[kind] and not tagged.get(kind):
                done.words[kind] = f"none found by key after {waited} s"
    lost = " (found by the push's key: its id was never recorded)"
    if push.note_id:
        done.add("note", push.note_id, "deleted" if sink.delete_note(push.note_id) else "already gone")
    for note in tagged.get("note", []):
        done.add("note", note, ("deleted" if sink.delete_note(note) else "already gone") + lost)
    if push.contact_id:
        if push.contact_created:
            done.add(
                "contact",
                push.contact_id,
                "deleted" if sink.delete_contact(push.contact_id) else "already gone",
            )
        else:
            done.add(
                "contact",
                push.contact_id,
                "kept (it was in the CRM before the pipeline): left for the operator",
            )
            done.kept_contact = push.contact_id
    for contact in tagged.get("contact", []):
        done.add("contact", contact, ("deleted" if sink.delete_contact(contact) else "already gone") + lost)
    companies = [(push.company_id, push.company_created, "")] if push.company_id else []
    companies += [(company, True, lost) for company in tagged.get("company", [])]
    for company, created, why in companies:
        if not created:
            done.add("company", company, "kept (it was in the CRM before the pipeline)")
        elif pushes.others_sharing_company(sink.name, company, push.id):
            done.add("company", company, "kept (another prospect's push uses it)")
        else:
            done.add(
                "company", company, ("deleted" if sink.delete_company(company) else "already gone") + why
            )
    return done


def _hand_over(store: Store, push: CrmPush, contact_id: str) -> None:
    """Tell the operator the rest of the erasure is theirs: the contact predates the pipeline, so it is
    the team's own record, which the pipeline must not destroy; whether it goes is the team's call."""
    store.escalations.raise_(
        HANDOFF_KIND,
        f"crm:{push.system}:erase-handoff:{push.id}",
        subject=push.prospect_id,
        detail=(
            f"erasure: {push.system} contact {contact_id} was in the CRM before the pipeline pushed, so only"
            f" what the pipeline added (its note) was deleted; the contact itself was left. Carry out this"
            f" part of the erasure request in {push.system} (delete the contact, or record why it is kept),"
            f" then acknowledge."
        ),
    )


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

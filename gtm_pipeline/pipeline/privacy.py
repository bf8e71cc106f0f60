"""Data-principal rights under India's DPDP Act (and GDPR where it applies): erasure, access,
rights requests with due dates, and retention.

Erasure tombstones: personal data goes (contact fields, artifact content and URLs, journal
payload text, dead-letter raw outputs), while ids, hashes, timestamps, decision metadata
and the reason stay, so the audit trail the DPDP Rules require (logs kept at least a year)
holds with no personal data in it, and the journal's hash chain still verifies. The
identity goes on the permanent suppression list, so the person is never rediscovered or
contacted again. Copies held outside the store go too: the fetcher's HTTP cache of pages is
emptied (``pages``), since a cached page can name the person, and what was pushed to the team's
CRM is marked for deletion there (``crm_pushes``: the next CRM pass deletes it and keeps the
outcome as evidence; see :mod:`gtm_pipeline.crm.sync`). The CRM call is queued rather than made
here so an unreachable CRM can neither block nor half-finish an erasure: a failed delete is
escalated and tried again.

An erasure or export by address follows the person beyond their prospects (a reply that matched
no touch, a referral naming them in someone else's record): see :mod:`.person_search`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from gtm_pipeline.domain.ids import email_hash, is_prospect_id
from gtm_pipeline.domain.person_forms import parse_person
from gtm_pipeline.domain.states import Event
from gtm_pipeline.pipeline.person_search import (
    Subject,
    erase_person,
    known_address,
    person_records,
    without_others,
)
from gtm_pipeline.sources.page_cache import PageCache
from gtm_pipeline.store import Store
from gtm_pipeline.store.crm_pushes import CrmPushes

PRIVACY_ACTOR = "operator:privacy"
PURPOSE = "B2B outbound prospecting: research of public company sources and one-to-one business email"
RIGHTS_KINDS = ("access", "correction", "erasure", "grievance")


class UnknownSubjectError(LookupError):
    """No prospect matches the email or id given."""


@dataclass
class ErasureReport:
    """What an erasure did (ids and counts only: safe to print and to journal)."""

    subject_hash: str
    prospect_ids: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    request_id: int | None = None
    compacted: bool = True


def _prospects_of(store: Store, subject: str) -> list[str]:
    """The prospects a subject (a prospect id or an email hash) refers to."""
    if is_prospect_id(subject):
        return [subject] if store.prospects.get(subject) else []
    return [pid for pid, _state in store.prospects.with_email_hash(subject)]


def _resolve(store: Store, target: str) -> tuple[str, list[str]]:
    """(subject hash, prospect ids) for an email address (in any form, see ``parse_person``) or a
    prospect id."""
    subject = target if is_prospect_id(target) else parse_person(target).subject_hash
    return subject, _prospects_of(store, subject)


def _subject(store: Store, target: str) -> Subject | None:
    """Who a person's request is about (None for a prospect id: the account, not a person)."""
    if is_prospect_id(target):
        return None
    if target.startswith("e_") and "@" not in target:  # a recorded request: the hash alone
        return Subject(target, known_address(store, target))
    person = parse_person(target)
    return Subject(person.subject_hash, person.address, (person.name,) if person.name else ())


def record_request(store: Store, *, kind: str, email: str, now: dt.datetime, response_days: int) -> int:
    """Record a request received by mail, phone or form, with its due date; keeps only the hash."""
    if kind not in RIGHTS_KINDS:
        raise ValueError(f"kind must be one of {', '.join(RIGHTS_KINDS)}")
    digest = parse_person(email).subject_hash
    matches = store.prospects.with_email_hash(digest)
    return store.privacy.record_rights_request(
        kind=kind,
        subject_hash=digest,
        prospect_id=matches[0][0] if matches else None,
        received_at=now,
        response_days=response_days,
    )


def erase(
    store: Store,
    target: str,
    *,
    reason: str,
    now: dt.datetime,
    rights_request: bool = True,
    allow_unknown: bool = False,
    response_days: int | None = None,
    pages: PageCache | None,
) -> ErasureReport:
    """Erase a person (by email) or a prospect (by id). Idempotent; safe to re-run after a crash.

    ``rights_request``: record it as a data principal's request, due within ``response_days``
    (the published period; a rule such as retention records none). ``pages``: the fetcher's
    page cache to empty (None only where no fetcher ever ran, such as a bare store)."""
    if rights_request and response_days is None:
        raise ValueError("a rights request needs the published response period")
    subject_hash, prospect_ids = _resolve(store, target)
    person = _subject(store, target)
    if not prospect_ids and not allow_unknown and is_prospect_id(target):
        raise UnknownSubjectError(f"no prospect {target}")
    request_id = None
    if rights_request:
        request_id = store.privacy.record_rights_request(
            kind="erasure",
            subject_hash=subject_hash,
            prospect_id=prospect_ids[0] if prospect_ids else None,
            received_at=now,
            response_days=response_days or 0,
        )
    return _erase(
        store,
        subject_hash,
        prospect_ids,
        reason=reason,
        now=now,
        request_id=request_id,
        person=person,
        pages=pages,
    )


def _open_request(store: Store, request_id: int, kind: str) -> dict[str, Any]:
    found = [r for r in store.privacy.rights_requests(status="open") if r["id"] == request_id]
    if not found or found[0]["kind"] != kind:
        raise UnknownSubjectError(f"request #{request_id} is not an open {kind} request")
    return found[0]


def _subject_prospects(store: Store, request: dict[str, Any]) -> tuple[str, list[str]]:
    """The prospects a recorded request is about: by its email hash, or the prospect it names."""
    subject = str(request["subject_hash"])
    return subject, _prospects_of(store, subject)


def fulfil_erasure(
    store: Store, request_id: int, *, now: dt.datetime, reason: str, pages: PageCache | None
) -> ErasureReport:
    """Carry out an erasure request recorded earlier (console, ``gtm rights add``) from its hash alone.

    The email address itself is not needed: the request keeps only its hash, which is
    exactly what the suppression list and the prospects' ``contact_email_hash`` hold.
    """
    subject_hash, prospect_ids = _subject_prospects(store, _open_request(store, request_id, "erasure"))
    return _erase(
        store,
        subject_hash,
        prospect_ids,
        reason=reason,
        now=now,
        request_id=request_id,
        person=_subject(store, subject_hash),
        pages=pages,
    )


def _erase(
    store: Store,
    subject_hash: str,
    prospect_ids: list[str],
    *,
    reason: str,
    now: dt.datetime,
    request_id: int | None,
    person: Subject | None,
    pages: PageCache | None,
) -> ErasureReport:
    """``person``: who, when the request is a person's (by address or its hash): they are followed
    beyond their prospects. None for a prospect id, which erases the account's records only."""
    report = ErasureReport(subject_hash=subject_hash, prospect_ids=prospect_ids, request_id=request_id)
    # Suppress first: even if what follows is interrupted, the person can no longer be contacted.
    if person is not None:
        store.privacy.suppress(subject_hash, kind="email", reason=reason)
        report.counts["contacts"] = store.contacts.tombstone_person(subject_hash, at=now)
    for pid in prospect_ids:
        prospect = store.prospects.get(pid)
        if prospect is not None and prospect.contact_email:
            store.privacy.suppress(email_hash(prospect.contact_email), kind="email", reason=reason)
        for contact in store.contacts.of(pid):
            # Every person of an erased prospect stays unreachable, not only its addressee.
            if contact.email_hash:
                store.privacy.suppress(contact.email_hash, kind="email", reason=reason)
        store.privacy.suppress(pid, kind="prospect", reason=reason)
        counts = store.privacy.tombstone(pid, reason=reason, now=now)
        # Calls queued for a batch API quote the person's sources: deleted, not tombstoned (no evidence).
        counts["skill_batch_items"] = store.skill_batches.erase(pid)
        for key, value in counts.items():
            report.counts[key] = report.counts.get(key, 0) + value
        entry = store.journal.append(
            subject=pid,
            kind="erasure",
            actor=PRIVACY_ACTOR,
            payload={"reason": reason, "request_id": report.request_id, "tombstoned": counts},
        )
        store.prospects.apply_event(
            pid,
            Event.ERASED,
            actor=PRIVACY_ACTOR,
            rationale=f"erasure: {reason}",
            now=now,
            details={"erasure_entry": entry},
        )
    # What reached the CRM goes too: queued here, deleted (and recorded) by the next CRM pass.
    report.counts["crm_deletions_due"] = CrmPushes(store).mark_erase_due(
        prospect_ids, subject_hash if person is not None else None
    )
    found_elsewhere = False
    if person is not None:
        elsewhere = erase_person(store, person, reason=reason, now=now)
        for key, value in elsewhere.items():
            report.counts[key] = report.counts.get(key, 0) + value
        found_elsewhere = any(elsewhere.values())
    report.compacted = store.compact()
    if prospect_ids:
        # Discovery's cached answers quote public pages, which can name the person.
        report.counts["source_answers"] = store.source_answers.clear()
    if pages is not None and (prospect_ids or found_elsewhere):
        forgotten = pages.forget_everything()
        report.counts["cached_pages"] = forgotten.pages
        report.compacted = report.compacted and forgotten.compacted
    if report.request_id is not None:
        store.privacy.complete_rights_request(
            report.request_id, outcome=f"erased {len(prospect_ids)} prospect(s): {report.counts}", at=now
        )
    return report


def export(store: Store, email: str, *, now: dt.datetime, response_days: int) -> dict[str, Any]:
    """Everything held about a person, as the access right requires (recorded as a request)."""
    digest, prospect_ids = _resolve(store, email)
    request_id = store.privacy.record_rights_request(
        kind="access",
        subject_hash=digest,
        prospect_id=prospect_ids[0] if prospect_ids else None,
        received_at=now,
        response_days=response_days,
    )
    person = _subject(store, email)
    assert person is not None
    return _export(store, person, prospect_ids, request_id=request_id, now=now)


def fulfil_access(store: Store, request_id: int, *, now: dt.datetime) -> dict[str, Any]:
    """Answer an access request recorded earlier, from its hash alone (see ``fulfil_erasure``)."""
    digest, prospect_ids = _subject_prospects(store, _open_request(store, request_id, "access"))
    return _export(
        store, Subject(digest, known_address(store, digest)), prospect_ids, request_id=request_id, now=now
    )


def _export(
    store: Store, person: Subject, prospect_ids: list[str], *, request_id: int, now: dt.datetime
) -> dict[str, Any]:
    """Everything held about the person, and only about them: their prospects' records, their
    own replies and the emails sent to them, and where else they were named; every other
    person's address in it masked (see :func:`.person_search.without_others`)."""
    digest = person.subject_hash
    held = []
    for pid in prospect_ids:
        prospect = store.prospects.get(pid)
        assert prospect is not None
        artifacts = [
            store.artifacts.of_kind(pid, kind) for kind in ("raw_source", "profile", "draft", "context_pack")
        ]
        held.append(
            {
                "prospect_id": pid,
                "purpose": PURPOSE,
                "hypothesis": prospect.hypothesis_slug,
                "company": {"name": prospect.company_name, "domain": prospect.company_domain},
                "contact": {
                    "name": prospect.contact_name,
                    "email": prospect.contact_email,
                    "role": prospect.contact_role,
                },
                "state": prospect.state.value,
                "sources": [
                    {
                        "source_id": a.source_id,
                        "url": a.url,
                        "kind": a.source_kind,
                        "retrieved": a.meta.get("retrieved_at"),
                    }
                    for a in artifacts[0]
                ],
                "artifacts": [
                    {"id": a.id, "kind": a.kind, "created_at": a.created_at.isoformat(), "content": a.content}
                    for group in artifacts
                    for a in group
                ],
                "decisions": [
                    {"at": e.created_at.isoformat(), "kind": e.kind, "actor": e.actor, "detail": e.payload}
                    for e in store.journal.entries(pid)
                ],
            }
        )
    contacts = [
        {
            "prospect_id": c.prospect_id,
            "name": c.name,
            "title": c.title,
            "email": c.email,
            "flags": c.flags,
            "found_in": c.source,
            "found_at": c.found_at.isoformat(),
        }
        for c in store.contacts.with_email_hash(digest)
        if not c.tombstoned
    ]
    own = person_records(store, person, prospect_ids)
    result = {
        "subject_hash": digest,
        "request_id": request_id,
        "generated_at": now.isoformat(),
        "contacts": contacts,
        "suppressed": store.privacy.suppression_reason(digest) is not None,
        "prospects": without_others(store, person, held, own["emails_sent"]),
        "replies": without_others(store, person, own["replies"], own["emails_sent"]),
        "emails_sent": own["emails_sent"],  # exactly what they received
        "named_in": own["named_in"],
    }
    store.privacy.complete_rights_request(request_id, outcome=f"exported {len(held)} prospect(s)", at=now)
    return result

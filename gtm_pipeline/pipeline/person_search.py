"""Erasure and access that follow the person, not the prospect.

A prospect's rows are found by its id, but the person behind an address is held in more places:
a reply they sent that matched no touch, a referral in which someone else named them ("talk to
kim@…"), a follow-up or a dead letter quoting them. Those places are found by every form of the
address (see :mod:`gtm_pipeline.domain.person_forms`), whichever prospect they belong to. An
erasure removes the person's own rows whole and only their address (and the name written with
it) from other people's records; an access export gives the person their own replies and the
emails sent to them, says where else they were named without handing over the other person's
record, and masks every address in it that is neither theirs nor our own mailboxes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from gtm_pipeline.domain.ids import content_hash, normalize_email
from gtm_pipeline.domain.person_forms import (
    PersonMatcher,
    addresses,
    mask_others,
    token_domain,
    token_hash,
)
from gtm_pipeline.outreach.mailparse import parse_mail
from gtm_pipeline.store import Store
from gtm_pipeline.store.person_places import Found, is_own, patterns
from gtm_pipeline.store.records import utc

# What each place is, in the words an access export uses (no record of the other person in it).
PLACE_WORDS = {
    "inbox": "a message someone else sent us",
    "outbox": "an email we sent to someone else",
    "journal": "our record of decisions about someone else",
    "dead_letters": "a model answer kept for review",
    "artifacts": "a page or document kept about a company",
    "contacts": "a company's list of people",
    "escalations": "a note to our operator",
    "review_queue": "a reviewer's note",
    "source_answers": "a cached search answer",
}


@dataclass(frozen=True)
class Subject:
    """The person a request is about: their address hash, the address when known, names given."""

    subject_hash: str
    address: str | None = None
    names: tuple[str, ...] = ()

    @property
    def matcher(self) -> PersonMatcher:
        return PersonMatcher(self.subject_hash, self.names)

    @property
    def likes(self) -> list[str]:
        """Candidate filters: by the address's local part, or (hash only) every row with an "@"."""
        return patterns(self.address)


def known_address(store: Store, subject_hash: str) -> str | None:
    """The address behind a hash, where the store still holds it (a request keeps only the hash):
    a prospect's addressee, a contact, an email sent. Only makes the search faster."""
    for pid, _state in store.prospects.with_email_hash(subject_hash):
        prospect = store.prospects.get(pid)
        if prospect is not None and prospect.contact_email:
            return normalize_email(prospect.contact_email)
    for contact in store.contacts.with_email_hash(subject_hash):
        if contact.email:
            return normalize_email(contact.email)
    for row in store.privacy.sent_to(subject_hash):
        to = (row.get("payload") or {}).get("to") or []
        for address in [to] if isinstance(to, str) else to:
            if token_hash(str(address)) == subject_hash:
                return normalize_email(str(address))
    return None


def _reply_source_ids(store: Store, subject: Subject) -> list[str]:
    """The source ids under which a skill classified the person's own replies (``reply:<hash>``):
    its journal entry quotes the reply, often without the address in it."""
    ids = []
    for found in store.privacy.find_person(subject.matcher, subject.likes, places=("inbox",)):
        raw = found.row.get("raw_message")
        if raw and is_own(found, subject.matcher):
            ids.append(f"reply:{content_hash(parse_mail(str(raw)).text)[:16]}")
    return ids


def erase_person(store: Store, subject: Subject, *, reason: str, now: dt.datetime) -> dict[str, int]:
    """Remove the person from every place outside their own prospects; counts per place."""
    quoted = _reply_source_ids(store, subject)
    counts = store.privacy.erase_person(subject.matcher, subject.likes, reason=reason, now=now)
    if quoted:
        counts["journal_quoting_person"] = store.privacy.tombstone_quoting(quoted, reason=reason, now=now)
    return counts


def _reply(found: Found, prospect_ids: list[str]) -> dict[str, Any]:
    row = found.row
    data = (row.get("payload") or {}).get("data") or {}
    mail = parse_mail(str(row["raw_message"])) if row.get("raw_message") else None
    return {
        "received_at": utc(row["received_at"]).isoformat(),
        "prospect_id": found.prospect_id if found.prospect_id in prospect_ids else None,
        "subject": mail.subject if mail else data.get("subject"),
        "text": mail.text if mail else None,
    }


def _sent(row: dict[str, Any]) -> dict[str, Any]:
    payload = row.get("payload") or {}
    return {
        "prospect_id": row["prospect_id"],
        "touch": row["touch_number"],
        "status": row["status"],
        "sent_at": utc(row["sent_at"]).isoformat() if row.get("sent_at") else None,
        "from": payload.get("from"),
        "reply_to": payload.get("reply_to"),
        "subject": payload.get("subject"),
        "text": payload.get("text"),
    }


def _named(found: Found) -> dict[str, Any]:
    at = next((v for k, v in found.row.items() if k.endswith("_at") and isinstance(v, dt.datetime)), None)
    return {
        "place": PLACE_WORDS[found.place.name],
        "at": utc(at).isoformat() if at else None,
        "fields": list(found.fields),
        "held_as": sorted(set(found.forms)),
    }


def person_records(store: Store, subject: Subject, prospect_ids: list[str]) -> dict[str, Any]:
    """What an export adds to the prospects' records: the person's own replies (wherever they
    were filed, matched or not), the emails sent to them, and where else they were named."""
    matcher = subject.matcher
    found = store.privacy.find_person(matcher, subject.likes)
    replies = [_reply(f, prospect_ids) for f in found if f.place.name == "inbox" and is_own(f, matcher)]
    named = [
        _named(f)
        for f in found
        if not is_own(f, matcher) and f.prospect_id not in prospect_ids and f.place.name != "contacts"
    ]
    return {
        "replies": replies,
        "emails_sent": [_sent(row) for row in store.privacy.sent_to(subject.subject_hash)],
        "named_in": named,
    }


def without_others(store: Store, subject: Subject, value: Any, sent: list[dict[str, Any]]) -> Any:
    """``value`` with every address that is neither the person's nor at one of our own mail
    domains (a mailbox, the reply-to of an email in ``sent``, or a parent or subdomain of one)
    replaced: an export holds no one else's address."""
    ours = store.privacy.mail_domains()
    for email in sent:
        for _start, _end, token in addresses(f"{email.get('from')} {email.get('reply_to')}"):
            ours.add(token_domain(token) or "")
    ours.discard("")

    def keep(token: str) -> bool:
        if token_hash(token) == subject.subject_hash:
            return True
        domain = token_domain(token)
        return domain is not None and any(
            domain == d or domain.endswith("." + d) or d.endswith("." + domain) for d in ours
        )

    return mask_others(value, keep)

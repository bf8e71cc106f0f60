"""Contacts found on a company's own pages: recorded with the page they came from, and the first
person with their own published work address becomes the addressee of a prospect that has none.

An address is only ever one the page shows; nothing here guesses one or probes a mail server.
"""

from __future__ import annotations

from gtm_pipeline.domain.ids import content_hash
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.sources.fetcher import Fetched
from gtm_pipeline.sources.people import published_people
from gtm_pipeline.store import ProspectRecord
from gtm_pipeline.store.contacts import NewContact

CONTACT_ACTOR = "rule:contacts@1"


def record_published_contacts(
    services: Services, prospect: ProspectRecord, pages: list[Fetched], *, run_id: str | None = None
) -> int:
    """Store the people ``pages`` publish; returns how many were new."""
    now = services.clock.now()
    added = 0
    store = services.store
    suppression = store.privacy
    for page in pages:
        for person in published_people(page.text, prospect.company_domain):
            contact = NewContact(
                name=person.name,
                title=person.title,
                email=person.email,
                flags=list(person.flags),
                source_kind="page",
                source=page.final_url,
                source_hash=content_hash(page.text),
            )
            digest = contact.address_hash()
            if digest and suppression.suppression_reason(digest) is not None:
                continue  # a suppressed person is never stored again, wherever they are published
            with store.writing() as c:
                created = store.contacts.add_in(c, prospect.id, contact, now=now)
            added += int(created)
            if created:
                store.journal.append(
                    subject=prospect.id,
                    kind="contact_found",
                    actor=CONTACT_ACTOR,
                    payload={
                        "source": page.final_url,
                        "flags": contact.flags,
                        "has_address": digest is not None,
                    },
                    run_id=run_id,
                )
    choose_addressee(services, prospect.id, run_id=run_id)
    return added


def choose_addressee(services: Services, prospect_id: str, *, run_id: str | None = None) -> bool:
    """Give a prospect without an addressee its first reachable, unsuppressed contact: the choice,
    the suppression check and the journal entry in one transaction. Returns whether one was set."""
    store = services.store
    now = services.clock.now()
    with store.writing() as c:
        return store.contacts.choose_addressee_in(c, prospect_id, actor=CONTACT_ACTOR, now=now, run_id=run_id)

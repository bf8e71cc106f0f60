"""Contacts: the people a prospect's company has, each with where they were found.

A contact's name, title and address are personal data (removed by a tombstone); its flags
(``role``, ``free_mail``, ``undeliverable``), source kind and source hash are not. An address is
only ever one that was imported or published on the company's own pages.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from gtm_pipeline.domain.ids import email_hash
from gtm_pipeline.store import schema as t
from gtm_pipeline.store.records import utc

if TYPE_CHECKING:
    from gtm_pipeline.store.unit import Store


@dataclass(frozen=True)
class NewContact:
    name: str | None
    title: str | None
    email: str | None
    flags: list[str]
    source_kind: str  # import | page
    source: str  # the file name or the page URL
    source_hash: str
    email_hash: str | None = None  # given by a caller that already hashed the address (an import)

    def address_hash(self) -> str | None:
        if self.email is None:
            return None
        return self.email_hash or email_hash(self.email)


@dataclass(frozen=True)
class ContactRecord:
    id: str
    prospect_id: str
    name: str | None
    title: str | None
    email: str | None
    email_hash: str | None
    flags: list[str]
    source_kind: str
    source: str | None
    found_at: dt.datetime
    tombstoned: bool

    @property
    def reachable(self) -> bool:
        return self.email is not None and not self.flags


def contact_id(prospect_id: str, contact: NewContact) -> str:
    key = contact.address_hash() or "name:" + (contact.name or "").casefold()
    return hashlib.sha256(f"{prospect_id}\x1f{key}".encode()).hexdigest()[:40]


class Contacts:
    def __init__(self, store: Store) -> None:
        self.store = store

    def add_in(self, c: sa.Connection, prospect_id: str, contact: NewContact, *, now: dt.datetime) -> bool:
        """Record ``contact`` once per prospect (by address, else by name); False when known."""
        return self.add_many_in(c, [(prospect_id, contact)], now=now) == 1

    def add_many_in(
        self, c: sa.Connection, contacts: list[tuple[str, NewContact]], *, now: dt.datetime
    ) -> int:
        """Record many (prospect id, contact) pairs, each once per prospect (by address, else by
        name), in a few statements; returns how many were new."""
        wanted: dict[str, tuple[str, NewContact]] = {}
        for pid, contact in contacts:
            wanted.setdefault(contact_id(pid, contact), (pid, contact))
        ids = list(wanted)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for row in c.execute(sa.select(t.contacts.c.id).where(t.contacts.c.id.in_(chunk))):
                wanted.pop(row.id, None)
        if wanted:
            c.execute(
                t.contacts.insert(),
                [
                    {
                        "id": cid,
                        "prospect_id": pid,
                        "name": contact.name,
                        "title": contact.title,
                        "email": contact.email,
                        "email_hash": contact.address_hash(),
                        "flags": list(contact.flags),
                        "source_kind": contact.source_kind,
                        "source": contact.source,
                        "source_hash": contact.source_hash,
                        "found_at": now,
                    }
                    for cid, (pid, contact) in wanted.items()
                ],
            )
        return len(wanted)

    def of(self, prospect_id: str) -> list[ContactRecord]:
        with self.store.reading() as c:
            rows = c.execute(
                sa.select(t.contacts)
                .where(t.contacts.c.prospect_id == prospect_id)
                .order_by(t.contacts.c.found_at, t.contacts.c.id)
            ).all()
        return [_record(r) for r in rows]

    def with_email_hash(self, digest: str) -> list[ContactRecord]:
        with self.store.reading() as c:
            rows = c.execute(sa.select(t.contacts).where(t.contacts.c.email_hash == digest)).all()
        return [_record(r) for r in rows]

    def tombstone_in(self, c: sa.Connection, prospect_id: str, *, at: dt.datetime) -> int:
        result = c.execute(
            t.contacts.update()
            .where(t.contacts.c.prospect_id == prospect_id, t.contacts.c.tombstoned_at.is_(None))
            .values(**_tombstone(at))
        )
        return result.rowcount or 0

    def choose_addressee_in(
        self, c: sa.Connection, prospect_id: str, *, actor: str, now: dt.datetime, run_id: str | None = None
    ) -> bool:
        """If the prospect has no addressee, make its first reachable contact whose address is not
        suppressed the addressee, journaled, in the caller's transaction."""
        row = c.execute(
            sa.select(t.prospects.c.contact_email, t.prospects.c.erased_at).where(
                t.prospects.c.id == prospect_id
            )
        ).first()
        if row is None or row.contact_email is not None or row.erased_at is not None:
            return False
        suppressed = sa.select(t.suppressions.c.identity).where(
            t.suppressions.c.identity == t.contacts.c.email_hash
        )
        candidates = c.execute(
            sa.select(t.contacts)
            .where(
                t.contacts.c.prospect_id == prospect_id,
                t.contacts.c.email.is_not(None),
                t.contacts.c.tombstoned_at.is_(None),
                ~suppressed.exists(),
            )
            .order_by(t.contacts.c.found_at, t.contacts.c.id)
        ).all()
        chosen = next((r for r in candidates if not (r.flags or [])), None)
        if chosen is None:
            return False
        c.execute(
            t.prospects.update()
            .where(t.prospects.c.id == prospect_id)
            .values(
                contact_name=chosen.name,
                contact_email=chosen.email,
                contact_role=chosen.title,
                contact_email_hash=chosen.email_hash,
            )
        )
        self.store.journal.append_in(
            c,
            subject=prospect_id,
            kind="addressee_chosen",
            actor=actor,
            payload={"contact_id": chosen.id, "source_kind": chosen.source_kind},
            now=now,
            run_id=run_id,
        )
        return True

    def tombstone_person(self, digest: str, *, at: dt.datetime) -> int:
        """Remove one person's data wherever they are a contact (by address hash): a person erased
        who was not a prospect's addressee still leaves nothing behind."""
        with self.store.writing() as c:
            result = c.execute(
                t.contacts.update()
                .where(t.contacts.c.email_hash == digest, t.contacts.c.tombstoned_at.is_(None))
                .values(**_tombstone(at))
            )
        return result.rowcount or 0


def _tombstone(at: dt.datetime) -> dict[str, Any]:
    """What a tombstone does to a contact row: every personal field goes, the hashes and flags stay."""
    return {"name": None, "title": None, "email": None, "source": None, "tombstoned_at": at}


def _record(row: Any) -> ContactRecord:
    return ContactRecord(
        id=row.id,
        prospect_id=row.prospect_id,
        name=row.name,
        title=row.title,
        email=row.email,
        email_hash=row.email_hash,
        flags=list(row.flags or []),
        source_kind=row.source_kind,
        source=row.source,
        found_at=utc(row.found_at),
        tombstoned=row.tombstoned_at is not None,
    )

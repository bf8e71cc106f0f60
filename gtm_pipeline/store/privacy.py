"""What the DPDP Act asks the store for: the permanent suppression list, the rights register,
and tombstones that remove personal data while the hashes and decisions stay.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from gtm_pipeline.domain.journal import redact
from gtm_pipeline.domain.person_forms import PersonMatcher
from gtm_pipeline.store import schema as t
from gtm_pipeline.store.person_places import PLACES, Found, find_in, is_own, mail_domains, sent_to
from gtm_pipeline.store.records import utc

if TYPE_CHECKING:
    from gtm_pipeline.store.unit import Store

_KEPT_ARTIFACT_META = ("skill", "skill_version", "group", "input_hash", "retrieved_at")


class Privacy:
    """Suppression, rights requests and tombstones."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def suppress(self, identity: str, *, kind: str, reason: str, journal_entry_id: str | None = None) -> bool:
        """Add an identity (an email hash or a prospect id) to the permanent suppression list."""
        with self.store.writing() as c:
            return self.suppress_in(c, identity, kind=kind, reason=reason, journal_entry_id=journal_entry_id)

    def suppress_in(
        self, c: sa.Connection, identity: str, *, kind: str, reason: str, journal_entry_id: str | None = None
    ) -> bool:
        """:meth:`suppress` inside the caller's transaction (an import's opt-outs commit with it)."""
        if c.execute(
            sa.select(t.suppressions.c.identity).where(t.suppressions.c.identity == identity)
        ).first():
            return False
        c.execute(
            t.suppressions.insert().values(
                identity=identity,
                kind=kind,
                reason=reason,
                journal_entry_id=journal_entry_id,
                created_at=self.store.now(),
            )
        )
        return True

    def suppression_reason(self, *identities: str) -> str | None:
        """Why any of ``identities`` is suppressed, or None when none is."""
        wanted = [i for i in identities if i]
        if not wanted:
            return None
        query = sa.select(t.suppressions.c.reason).where(t.suppressions.c.identity.in_(wanted)).limit(1)
        with self.store.reading() as c:
            row = c.execute(query).first()
        return str(row.reason) if row else None

    def suppressions(self) -> list[dict[str, Any]]:
        with self.store.reading() as c:
            return [
                dict(r._mapping)
                for r in c.execute(sa.select(t.suppressions).order_by(t.suppressions.c.created_at))
            ]

    def record_rights_request(
        self,
        *,
        kind: str,
        subject_hash: str,
        prospect_id: str | None,
        received_at: dt.datetime,
        response_days: int,
    ) -> int:
        """Record a data principal's request with its due date, so none is forgotten."""
        with self.store.writing() as c:
            result = c.execute(
                t.rights_requests.insert().values(
                    kind=kind,
                    subject_hash=subject_hash,
                    prospect_id=prospect_id,
                    status="open",
                    received_at=received_at,
                    due_at=received_at + dt.timedelta(days=response_days),
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def complete_rights_request(
        self, request_id: int, *, outcome: str, at: dt.datetime | None = None
    ) -> None:
        with self.store.writing() as c:
            c.execute(
                t.rights_requests.update()
                .where(t.rights_requests.c.id == request_id)
                .values(status="completed", completed_at=at or self.store.now(), outcome=outcome)
            )

    def rights_requests(self, *, status: str | None = None) -> list[dict[str, Any]]:
        query = sa.select(t.rights_requests).order_by(t.rights_requests.c.due_at)
        if status:
            query = query.where(t.rights_requests.c.status == status)
        with self.store.reading() as c:
            return [
                {k: (utc(v) if isinstance(v, dt.datetime) else v) for k, v in r._mapping.items()}
                for r in c.execute(query)
            ]

    def tombstone(self, prospect_id: str, *, reason: str, now: dt.datetime | None = None) -> dict[str, int]:
        """Remove every piece of personal data held for a prospect; keep ids, hashes and decisions.

        Contact fields, artifact content and URLs, journal payloads (reduced to decision
        metadata, see :func:`redact`), dead-letter raw outputs and operator notes go; the
        journal's hashes stay, so the chain still verifies. Idempotent.
        """
        at = now or self.store.now()
        counts = {
            "artifacts": 0,
            "journal_entries": 0,
            "dead_letters": 0,
            "outbox": 0,
            "inbox": 0,
            "contacts": 0,
        }
        with self.store.writing() as c:
            c.execute(
                t.prospects.update()
                .where(t.prospects.c.id == prospect_id)
                .values(
                    contact_name=None,
                    contact_email=None,
                    contact_role=None,
                    contact_timezone=None,
                    erased_at=at,
                )
            )
            counts["contacts"] = self.store.contacts.tombstone_in(c, prospect_id, at=at)
            sends = c.execute(
                t.outbox.update()
                .where(t.outbox.c.prospect_id == prospect_id, t.outbox.c.tombstoned_at.is_(None))
                .values(payload=None, last_error=None, tombstoned_at=at)
            )
            counts["outbox"] = sends.rowcount or 0
            events = c.execute(
                t.inbox.update()
                .where(t.inbox.c.prospect_id == prospect_id, t.inbox.c.tombstoned_at.is_(None))
                .values(payload={"tombstone": {"reason": reason}}, raw_message=None, tombstoned_at=at)
            )
            counts["inbox"] = events.rowcount or 0
            arts = c.execute(
                sa.select(t.artifacts.c.id, t.artifacts.c.meta).where(
                    t.artifacts.c.prospect_id == prospect_id, t.artifacts.c.tombstoned_at.is_(None)
                )
            ).all()
            for art in arts:
                kept = {k: v for k, v in dict(art.meta or {}).items() if k in _KEPT_ARTIFACT_META}
                c.execute(
                    t.artifacts.update()
                    .where(t.artifacts.c.id == art.id)
                    .values(
                        content=None,
                        url=None,
                        meta={**kept, "tombstone": {"reason": reason}},
                        tombstoned_at=at,
                    )
                )
            counts["artifacts"] = len(arts)
            rows = c.execute(
                sa.select(
                    t.journal.c.id, t.journal.c.kind, t.journal.c.payload, t.journal.c.tombstoned_at
                ).where(t.journal.c.subject == prospect_id)
            ).all()
            # An entry only redacted where it named someone else (see erase_person) is still whole.
            entries = [e for e in rows if e.tombstoned_at is None or "tombstone" not in (e.payload or {})]
            for entry in entries:
                c.execute(
                    t.journal.update()
                    .where(t.journal.c.id == entry.id)
                    .values(payload=redact(entry.kind, dict(entry.payload), reason), tombstoned_at=at)
                )
            counts["journal_entries"] = len(entries)
            result = c.execute(
                t.dead_letters.update()
                .where(t.dead_letters.c.prospect_id == prospect_id, t.dead_letters.c.raw_output.is_not(None))
                .values(raw_output=None)
            )
            counts["dead_letters"] = result.rowcount or 0
            c.execute(
                t.review_queue.update().where(t.review_queue.c.prospect_id == prospect_id).values(reason=None)
            )
        return counts

    def erase_person(
        self, matcher: PersonMatcher, likes: list[str], *, reason: str, now: dt.datetime | None = None
    ) -> dict[str, int]:
        """Remove one person from every place that holds them, whichever prospect it belongs to.

        Their own rows go whole, as a tombstone does (a reply they sent that matched no touch, an
        email sent to them); where someone else named them (a referral, a quote) only their
        address and the names written with it are replaced, and the rest of that record stays.
        A journal entry so redacted is marked tombstoned, like an erased one: its payload no
        longer hashes to the recorded digest, which the chain keeps, so the chain still verifies.
        ``likes``: see :func:`~gtm_pipeline.store.person_places.patterns`. Returns rows per place.
        """
        at = now or self.store.now()
        counts: dict[str, int] = {}
        with self.store.writing() as c:
            for place in PLACES:
                for found in list(find_in(c, place, matcher, likes)):
                    label = self._erase_found(c, found, matcher, reason=reason, at=at)
                    counts[label] = counts.get(label, 0) + 1
        return counts

    def _erase_found(
        self, c: sa.Connection, found: Found, matcher: PersonMatcher, *, reason: str, at: dt.datetime
    ) -> str:
        """Erase the person from one row; returns the report's name for what was done."""
        place, table = found.place.name, found.place.table
        update = table.update().where(table.c[found.place.key] == found.key)
        if place == "source_answers":  # a cache: the answer goes, it is asked again when needed
            c.execute(table.delete().where(table.c[found.place.key] == found.key))
            return "source_answers_mentions"
        if is_own(found, matcher):
            if place == "inbox":
                c.execute(
                    update.values(
                        payload={"tombstone": {"reason": reason}}, raw_message=None, tombstoned_at=at
                    )
                )
                return "inbox_from_person"
            if place == "outbox":
                c.execute(update.values(payload=None, last_error=None, tombstoned_at=at))
                return "outbox_to_person"
            c.execute(update.values(name=None, title=None, email=None, source=None, tombstoned_at=at))
            return "contacts"
        values = {col: matcher.redact(found.row[col], found.names)[0] for col in found.fields}
        if place == "journal":
            values["payload"] = {**values["payload"], "redacted": {"reason": reason}}
            values["tombstoned_at"] = found.row["tombstoned_at"] or at
        elif place == "artifacts":
            values["meta"] = {
                **dict(values.get("meta") or found.row["meta"] or {}),
                "redacted": {"reason": reason},
            }
        c.execute(update.values(**values))
        return f"{place}_mentions"

    def find_person(
        self, matcher: PersonMatcher, likes: list[str], places: tuple[str, ...] | None = None
    ) -> list[Found]:
        """Every row (of ``places``, default all) that holds the person: what an access request
        reports and an erasure removes. Read only."""
        with self.store.reading() as c:
            return [
                found
                for place in PLACES
                if places is None or place.name in places
                for found in find_in(c, place, matcher, likes)
            ]

    def sent_to(self, subject_hash: str) -> list[dict[str, Any]]:
        """The emails sent to an address (its outbox rows), whichever prospect they were for."""
        with self.store.reading() as c:
            return sent_to(c, subject_hash)

    def mail_domains(self) -> set[str]:
        """The domains our own mail comes from: an export keeps those addresses, masks the rest."""
        with self.store.reading() as c:
            return mail_domains(c)

    def tombstone_quoting(self, source_ids: list[str], *, reason: str, now: dt.datetime | None = None) -> int:
        """Tombstone the journal entries that cite one of ``source_ids`` (a skill's classification
        of a reply the person sent, which quotes it without their address), whoever's journal
        holds them; returns how many. The chain still verifies, as for any tombstone."""
        at = now or self.store.now()
        done = 0
        with self.store.writing() as c:
            for source_id in source_ids:
                rows = c.execute(
                    sa.select(
                        t.journal.c.id, t.journal.c.kind, t.journal.c.payload, t.journal.c.tombstoned_at
                    ).where(sa.cast(t.journal.c.payload, sa.Text).like(f"%{source_id}%"))
                ).all()
                for row in rows:
                    if row.tombstoned_at is not None and "tombstone" in (row.payload or {}):
                        continue
                    c.execute(
                        t.journal.update()
                        .where(t.journal.c.id == row.id)
                        .values(payload=redact(row.kind, dict(row.payload), reason), tombstoned_at=at)
                    )
                    done += 1
        return done

"""Every table and column where a person's address can be held as text, searched for one person.

A prospect's own rows are found by its id, but a person is also held where no prospect id leads:
a reply that matched no touch (the inbox row has no prospect), a third person named in someone
else's reply (the referrer's inbox row, journal and skill results), a follow-up's text, a dead
letter's raw output, an escalation's detail. Each place is searched the same way on SQLite and
Postgres: a coarse ``ILIKE`` over the column cast to text picks candidate rows, then
:class:`~gtm_pipeline.domain.person_forms.PersonMatcher` decides in Python, by hash, on the
decoded value (so a JSON-escaped or punycode form counts, and ``grace.kim@x`` is not ``kim@x``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from gtm_pipeline.domain.person_forms import PersonMatcher
from gtm_pipeline.store import schema as t

# With no address to look for (a request kept only its hash), any row holding an "@" in any of
# its encodings is a candidate: slower, but nothing is missed.
_ANY_ADDRESS = ("@", "%40", "\\u0040", "&#")


@dataclass(frozen=True)
class Place:
    """A table that can name a person: its key, its text and JSON columns, what else to read."""

    name: str
    table: sa.Table
    key: str
    texts: tuple[str, ...] = ()
    jsons: tuple[str, ...] = ()
    context: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        return self.texts + self.jsons


PLACES: tuple[Place, ...] = (
    Place(
        "inbox",
        t.inbox,
        "id",
        ("raw_message",),
        ("payload",),
        ("prospect_id", "event_type", "received_at"),
    ),
    Place(
        "outbox",
        t.outbox,
        "touch_id",
        ("last_error",),
        ("payload",),
        ("prospect_id", "to_hash", "created_at"),
    ),
    Place("journal", t.journal, "id", (), ("payload",), ("subject", "kind", "created_at", "tombstoned_at")),
    Place("dead_letters", t.dead_letters, "id", ("raw_output", "reason"), (), ("prospect_id", "created_at")),
    Place(
        "artifacts", t.artifacts, "id", ("content", "url"), ("meta",), ("prospect_id", "kind", "created_at")
    ),
    Place(
        "contacts",
        t.contacts,
        "id",
        ("name", "title", "email", "source"),
        (),
        ("prospect_id", "email_hash", "found_at"),
    ),
    Place("escalations", t.escalations, "id", ("detail",), (), ("subject", "created_at")),
    Place("review_queue", t.review_queue, "id", ("reason",), (), ("prospect_id", "created_at")),
    Place("source_answers", t.source_answers, "id", (), ("hits",), ("answered_at",)),
)


@dataclass(frozen=True)
class Found:
    """One row of a place that names the person: which columns, in what forms, with what names."""

    place: Place
    row: dict[str, Any]
    fields: tuple[str, ...]
    forms: tuple[str, ...]
    names: tuple[str, ...]

    @property
    def key(self) -> Any:
        return self.row[self.place.key]

    @property
    def prospect_id(self) -> str | None:
        """The prospect the row belongs to (a journal row: its subject)."""
        value = self.row.get("prospect_id", self.row.get("subject"))
        return str(value) if value else None


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def patterns(address: str | None) -> list[str]:
    """``ILIKE`` patterns that every stored form of ``address`` matches (a superset: the matcher
    decides). The local part is in every form (``kim@``, ``kim%40``, ``kim\\u0040``, ``"Kim" <kim@``);
    a non-ASCII one also as JSON's ``\\u`` escape, and in upper case (SQLite folds ASCII only)."""
    if address is None:
        return [_like(form) for form in _ANY_ADDRESS]
    local = address.rpartition("@")[0]
    forms = {local, local.upper(), json.dumps(local)[1:-1], json.dumps(local.upper())[1:-1]}
    return sorted(_like(form) for form in forms)


def find_in(c: sa.Connection, place: Place, matcher: PersonMatcher, likes: list[str]) -> Iterator[Found]:
    """Every row of ``place`` that names the person."""
    table = place.table
    wanted = [table.c[name] for name in (place.key, *place.context, *place.columns)]
    clauses = [
        sa.cast(table.c[col], sa.Text).ilike(like, escape="\\") for col in place.columns for like in likes
    ]
    for row in c.execute(sa.select(*wanted).where(sa.or_(*clauses))).mappings():
        fields, forms, names = [], [], []
        for col in place.columns:
            held, seen = matcher.found_in(row[col])
            if held:
                fields.append(col)
                forms += held
                names += seen
        if fields:
            yield Found(place, dict(row), tuple(fields), tuple(forms), tuple(dict.fromkeys(names)))


_FROM_HEADER = re.compile(r"^From:(.*)$", re.MULTILINE | re.IGNORECASE)


def sender(row: dict[str, Any]) -> str | None:
    """Who sent an inbox row's message: the event's ``from``, else the stored message's header."""
    payload = row.get("payload") or {}
    data = payload.get("data") if isinstance(payload, dict) else None
    if isinstance(data, dict) and data.get("from"):
        return str(data["from"])
    raw = str(row.get("raw_message") or "")
    header = _FROM_HEADER.search(raw.split("\n\n", 1)[0])
    return header.group(1).strip() if header else None


def is_own(found: Found, matcher: PersonMatcher) -> bool:
    """True when the row is the person's own (their message, an email to them, their contact row),
    not a place where someone else named them."""
    row = found.row
    if found.place.name == "inbox":
        return row.get("event_type") == "email.received" and matcher.is_person(sender(row))
    if found.place.name == "outbox":
        return row.get("to_hash") == matcher.subject_hash
    if found.place.name == "contacts":
        return row.get("email_hash") == matcher.subject_hash
    return False


def sent_to(c: sa.Connection, subject_hash: str) -> list[dict[str, Any]]:
    """The emails sent (or being sent) to an address, oldest first, tombstoned ones left out."""
    query = (
        sa.select(t.outbox)
        .where(t.outbox.c.to_hash == subject_hash, t.outbox.c.tombstoned_at.is_(None))
        .order_by(t.outbox.c.created_at, t.outbox.c.touch_number)
    )
    return [dict(r) for r in c.execute(query).mappings()]


def mail_domains(c: sa.Connection) -> set[str]:
    """The domains this pipeline sends from (its mailboxes and sending domains)."""
    rows = c.execute(sa.select(t.outbox.c.mailbox, t.outbox.c.sending_domain).distinct())
    return {str(v).rpartition("@")[2].lower() for row in rows for v in row if v}

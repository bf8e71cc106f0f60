"""What the store hands back: frozen records built from rows (UTC-aware times, plain dicts, states)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from typing import Any, TypeVar

import sqlalchemy as sa

from gtm_pipeline.domain.states import State


def utc(value: dt.datetime) -> dt.datetime:
    """SQLite returns naive datetimes; everything the store writes is UTC."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


@dataclass(frozen=True)
class ProspectRecord:
    """A prospect as stored (contact fields are ``None`` once erased)."""

    id: str
    hypothesis_slug: str
    company_domain: str
    company_name: str
    contact_name: str | None
    contact_email: str | None
    contact_role: str | None
    state: State
    state_since: dt.datetime
    discovered_at: dt.datetime
    contact_timezone: str | None = None


@dataclass(frozen=True)
class ArtifactRecord:
    """A stored artifact: a fetched source or a skill result."""

    id: str
    prospect_id: str
    kind: str
    source_id: str | None
    url: str | None
    source_kind: str | None
    published_on: dt.date | None
    content: str | None
    content_hash: str
    meta: dict[str, Any]
    journal_entry_id: str | None
    created_at: dt.datetime


@dataclass(frozen=True)
class JournalRecord:
    """One journal entry."""

    entry_id: str
    subject: str
    seq: int
    kind: str
    actor: str
    payload: dict[str, Any]
    payload_hash: str
    prev_hash: str
    entry_hash: str
    run_id: str | None
    created_at: dt.datetime
    tombstoned_at: dt.datetime | None


@dataclass(frozen=True)
class ReviewItem:
    """Something waiting for the operator."""

    id: int
    prospect_id: str
    artifact_id: str
    kind: str
    status: str
    created_at: dt.datetime


@dataclass(frozen=True)
class NewProspect:
    """What discovery knows about a prospect when it registers it."""

    id: str
    hypothesis_slug: str
    company_domain: str
    company_name: str
    contact_name: str | None = None
    contact_email: str | None = None
    contact_role: str | None = None
    contact_timezone: str | None = None


R = TypeVar("R")


def record(cls: type[R], row: sa.Row[Any]) -> R:
    """Build a record dataclass from the row's columns of the same names.

    Timestamps come back UTC-aware, JSON columns as plain dicts, states as :class:`State`.
    """
    values: dict[str, Any] = {}
    mapping = row._mapping
    for spec in fields(cls):  # type: ignore[arg-type]
        value = mapping[spec.name]
        if isinstance(value, dt.datetime):
            value = utc(value)
        elif spec.name in ("meta", "payload"):
            value = dict(value or {})
        elif spec.name == "state":
            value = State(value)
        values[spec.name] = value
    return cls(**values)


def prospect_record(row: sa.Row[Any]) -> ProspectRecord:
    return record(ProspectRecord, row)


def artifact_record(row: sa.Row[Any]) -> ArtifactRecord:
    return record(ArtifactRecord, row)


def journal_record(row: sa.Row[Any]) -> JournalRecord:
    return record(JournalRecord, row)

"""Artifacts: fetched sources and skill results, stored once per prospect, kind, source and content."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from gtm_pipeline.domain.ids import content_hash
from gtm_pipeline.store import schema as t
from gtm_pipeline.store.records import ArtifactRecord, artifact_record

if TYPE_CHECKING:
    from gtm_pipeline.store.unit import Store


class Artifacts:
    """Storing and reading artifacts."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(
        self,
        *,
        prospect_id: str,
        kind: str,
        content: str,
        meta: dict[str, Any] | None = None,
        source_id: str | None = None,
        url: str | None = None,
        source_kind: str | None = None,
        published_on: dt.date | None = None,
        journal_entry_id: str | None = None,
        run_id: str | None = None,
    ) -> tuple[str, bool]:
        """Store an artifact once per (prospect, kind, source, content); returns (id, created)."""
        digest = content_hash(content)
        artifact_id = "a_" + content_hash(f"{prospect_id}|{kind}|{source_id or ''}|{digest}")[:32]
        with self.store.writing() as c:
            if c.execute(sa.select(t.artifacts.c.id).where(t.artifacts.c.id == artifact_id)).first():
                return artifact_id, False
            c.execute(
                t.artifacts.insert().values(
                    id=artifact_id,
                    prospect_id=prospect_id,
                    kind=kind,
                    source_id=source_id,
                    url=url,
                    source_kind=source_kind,
                    published_on=published_on,
                    content=content,
                    content_hash=digest,
                    meta=meta or {},
                    journal_entry_id=journal_entry_id,
                    run_id=run_id,
                    created_at=self.store.now(),
                )
            )
            return artifact_id, True

    def of_kind(self, prospect_id: str, kind: str) -> list[ArtifactRecord]:
        query = (
            sa.select(t.artifacts)
            .where(t.artifacts.c.prospect_id == prospect_id, t.artifacts.c.kind == kind)
            .order_by(t.artifacts.c.created_at, t.artifacts.c.id)
        )
        with self.store.reading() as c:
            return [artifact_record(row) for row in c.execute(query)]

    def latest(self, prospect_id: str, kind: str) -> ArtifactRecord | None:
        found = self.of_kind(prospect_id, kind)
        return found[-1] if found else None

    def get(self, artifact_id: str) -> ArtifactRecord | None:
        with self.store.reading() as c:
            row = c.execute(sa.select(t.artifacts).where(t.artifacts.c.id == artifact_id)).first()
        return artifact_record(row) if row is not None else None

    def count_prospects_with(self, kind: str) -> int:
        query = sa.select(sa.func.count(sa.distinct(t.artifacts.c.prospect_id))).where(
            t.artifacts.c.kind == kind
        )
        with self.store.reading() as c:
            return int(c.execute(query).scalar_one())

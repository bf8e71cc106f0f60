"""Imported lists: one record per file and hypothesis, so importing the same file again is seen
as such, and what every import did (rows, imported, merged, skipped with lines and reasons) stays
on record without any personal data."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from gtm_pipeline.store import schema as t
from gtm_pipeline.store.records import utc

if TYPE_CHECKING:
    from gtm_pipeline.store.unit import Store


class Imports:
    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, import_id: str) -> dict[str, Any] | None:
        with self.store.reading() as c:
            row = c.execute(sa.select(t.imports).where(t.imports.c.id == import_id)).first()
        return _plain(row) if row is not None else None

    def exists_in(self, c: sa.Connection, import_id: str) -> bool:
        return c.execute(sa.select(t.imports.c.id).where(t.imports.c.id == import_id)).first() is not None

    def record_in(
        self,
        c: sa.Connection,
        *,
        import_id: str,
        file_name: str,
        file_sha256: str,
        hypothesis: str,
        actor: str,
        summary: dict[str, Any],
        now: dt.datetime,
    ) -> None:
        c.execute(
            t.imports.insert().values(
                id=import_id,
                file_name=file_name,
                file_sha256=file_sha256,
                hypothesis_slug=hypothesis,
                imported_at=now,
                actor=actor,
                summary=summary,
            )
        )

    def recent(self, limit: int = 20) -> list[dict[str, Any]]:
        with self.store.reading() as c:
            rows = c.execute(sa.select(t.imports).order_by(t.imports.c.imported_at.desc()).limit(limit)).all()
        return [_plain(r) for r in rows]


def _plain(row: Any) -> dict[str, Any]:
    found = dict(row._mapping)
    found["imported_at"] = utc(found["imported_at"])
    return found

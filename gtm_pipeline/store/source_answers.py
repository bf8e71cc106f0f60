"""Discovery sources' answers, cached for a window: an identical query inside it is served from
here, not paid for twice. Keyed by a hash of the source, the query and its window; no personal data
in the key, and the whole table is emptied by an erasure (hits quote pages that can name people)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from gtm_pipeline.store import schema as t
from gtm_pipeline.store.records import utc

if TYPE_CHECKING:
    from gtm_pipeline.store.unit import Store


def answer_key(source: str, parts: dict[str, Any]) -> str:
    return hashlib.sha256(
        json.dumps({"source": source, **parts}, sort_keys=True, default=str).encode()
    ).hexdigest()


class SourceAnswers:
    def __init__(self, store: Store) -> None:
        self.store = store

    def fresh(self, key: str, *, since: dt.datetime) -> list[dict[str, Any]] | None:
        """The hits answered for ``key`` at or after ``since``, or None."""
        with self.store.reading() as c:
            row = c.execute(
                sa.select(t.source_answers.c.hits, t.source_answers.c.answered_at).where(
                    t.source_answers.c.id == key
                )
            ).first()
        if row is None or utc(row.answered_at) < since:
            return None
        return list(row.hits)

    def keep(
        self, key: str, *, source: str, query_kind: str, hits: list[dict[str, Any]], cost_usd: float
    ) -> None:
        with self.store.writing() as c:
            c.execute(t.source_answers.delete().where(t.source_answers.c.id == key))
            c.execute(
                t.source_answers.insert().values(
                    id=key,
                    source=source,
                    query_kind=query_kind,
                    answered_at=self.store.now(),
                    cost_usd=cost_usd,
                    hits=hits,
                )
            )

    def clear(self) -> int:
        """Forget every answer (an erasure: a cached hit can quote a page that names the person)."""
        with self.store.writing() as c:
            return int(c.execute(t.source_answers.delete()).rowcount or 0)

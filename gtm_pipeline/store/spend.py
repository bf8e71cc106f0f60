"""The spend ledger: tokens and dollars per day, group, provider and model (atomic increments)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from gtm_pipeline.domain.contracts import Usage
from gtm_pipeline.store import schema as t

if TYPE_CHECKING:
    from gtm_pipeline.store.unit import Store


class Spend:
    """Recording and reading spend."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def record(
        self, *, day: dt.date, group: str, provider: str, model: str, usage: Usage, cost_usd: float
    ) -> None:
        """Add one call's tokens and cost to the day's ledger: one ``INSERT … ON CONFLICT DO UPDATE``,
        atomic on both backends (a read-then-insert lets two concurrent calls on Postgres both insert
        the day's first row, and one of them fail on the key)."""
        key = {"day": day, "group_name": group, "provider": provider, "model": model}
        values = {
            "calls": 1,
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cache_read_tokens": usage.cache_read_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
            "cost_usd": cost_usd,
        }
        with self.store.writing() as c:
            insert = postgresql.insert if c.dialect.name == "postgresql" else sqlite.insert
            statement = insert(t.spend).values(**key, **values)
            added = {name: getattr(t.spend.c, name) + getattr(statement.excluded, name) for name in values}
            c.execute(statement.on_conflict_do_update(index_elements=list(key), set_=added))

    def on(
        self, day: dt.date, group: str | None = None, *, providers: Collection[str] | None = None
    ) -> float:
        """Dollars spent on ``day``: by one skill group, and/or on some providers (paid search)."""
        query = sa.select(sa.func.coalesce(sa.func.sum(t.spend.c.cost_usd), 0.0)).where(t.spend.c.day == day)
        if group is not None:
            query = query.where(t.spend.c.group_name == group)
        if providers is not None:
            query = query.where(t.spend.c.provider.in_(list(providers)))
        with self.store.reading() as c:
            return float(c.execute(query).scalar_one())

    def rows(self) -> list[dict[str, Any]]:
        with self.store.reading() as c:
            return [
                dict(r._mapping)
                for r in c.execute(sa.select(t.spend).order_by(t.spend.c.day, t.spend.c.group_name))
            ]

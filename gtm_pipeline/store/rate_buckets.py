"""A rate limit per provider that holds across processes: a token bucket kept in the store.

Dagster runs several processes at once (concurrent backfill runs, sensors, the CLI), and a limiter
in each process lets the provider see the sum of their rates: it answers 429, circuits open and work
degrades. Here every process reserves its next slot with one atomic ``UPDATE … RETURNING`` on the
provider's row (GCRA: the bucket's theoretical arrival time moves forward one interval per call),
so together they never exceed the rate; SQLite serializes the write, Postgres locks the row.

The time here is the machine's wall clock, not the pipeline's injected clock: a rate protects a
provider in physical seconds, and a test's frozen or moved business clock must not change how fast
real calls go out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from gtm_pipeline.domain.clock import SystemClock
from gtm_pipeline.store import schema as t

if TYPE_CHECKING:
    from gtm_pipeline.store.unit import Store


class RateBuckets:
    def __init__(self, store: Store, wall: Callable[[], float] | None = None) -> None:
        self.store = store
        self.wall = wall or (lambda: SystemClock().now().timestamp())  # physical seconds, see above
        self._known: set[str] = set()

    def reserve(self, name: str, interval_s: float, burst: int = 1) -> float:
        """Take the next slot of ``name`` (one call every ``interval_s``, ``burst`` at once at most)
        and return the seconds to wait before using it (0: now)."""
        self._ensure(name)
        now = self.wall()
        b = t.rate_buckets
        moved = sa.case((b.c.tat > now, b.c.tat), else_=sa.literal(now)) + interval_s
        with self.store.writing() as c:
            tat = c.execute(
                sa.update(b).where(b.c.name == name).values(tat=moved).returning(b.c.tat)
            ).scalar_one()
        start = float(tat) - burst * interval_s
        return max(0.0, start - now)

    def defer(self, name: str, seconds: float) -> None:
        """Push the bucket ``seconds`` into the future (the provider said ``retry-after``): every
        process waits, not only the one that was told."""
        self._ensure(name)
        until = self.wall() + seconds
        b = t.rate_buckets
        with self.store.writing() as c:
            c.execute(sa.update(b).where(b.c.name == name, b.c.tat < until).values(tat=until))

    def _ensure(self, name: str) -> None:
        """The provider's row, created on its first call anywhere (another process may just have)."""
        if name in self._known:
            return
        try:
            with self.store.writing() as c:
                c.execute(sa.insert(t.rate_buckets).values(name=name, tat=0.0))
        except IntegrityError:
            pass  # it exists: fine
        self._known.add(name)

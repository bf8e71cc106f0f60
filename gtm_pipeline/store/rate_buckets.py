"""A rate limit per provider that holds across processes: a token bucket kept in the store.

Dagster runs several processes at once (concurrent backfill runs, sensors, the CLI), and a limiter
in each process lets the provider see the sum of their rates: it answers 429, circuits open and work
degrades. Here every process reserves its next slot with one atomic ``UPDATE … RETURNING`` on the
provider's row (GCRA: the bucket's theoretical arrival time moves forward one interval per call),
so together they never exceed the rate; SQLite serializes the write, Postgres locks the row.

A provider counts a request when it *arrives*; the bucket times it when it *leaves*. Between the
two, connection set-up, thread scheduling and the network add a delay that varies by tens of
milliseconds on a busy machine. Once a stretch of calls has used the burst, the provider's window is
anchored on the first of them: a later call that meets less delay arrives early by the provider's
count and gets 429, though it left on time (bench/backfill.py: 2 of 2,000 with the whole burst
used). So the bucket leaves half the provider's burst unused: calls still go out at the full rate,
and a call may arrive up to half a burst of intervals (0.5 s at 20/s with a burst of 20) earlier
than the stretch's first did without going over.

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


def headroom_burst(burst: int) -> int:
    """The calls the bucket lets go at once when the provider allows ``burst``: half, at least one."""
    return max(1, (burst + 1) // 2)


class RateBuckets:
    def __init__(self, store: Store, wall: Callable[[], float] | None = None) -> None:
        self.store = store
        self.wall = wall or (lambda: SystemClock().now().timestamp())  # physical seconds, see above
        self._known: set[str] = set()

    def reserve(self, name: str, interval_s: float, burst: int = 1) -> float:
        """Take the next slot of ``name`` (one call every ``interval_s``; the provider allows
        ``burst`` at once, this bucket lets half of them go: see the module's note) and return the
        seconds to wait before using it (0: now)."""
        burst = headroom_burst(burst)
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
        process waits, not only the one that was told. (The caller adds its burst's worth of
        intervals; with the headroom above the next slot comes a little later than that: never
        sooner.)"""
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

"""Which prospects a cohort holds: the inverse of :func:`gtm_pipeline.domain.cohorts.cohort_key`.

A cohort key is a pure function of a prospect's id, hypothesis and discovery time, so its members
are found in the store and are never written anywhere else: Dagster holds the cohort key, the run
finds its prospects here. Members are read in discovery order (then id), the order discovery
registers them in, so a run over a cohort is deterministic.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable

import sqlalchemy as sa

from gtm_pipeline.domain.cohorts import BUCKETS, cohort_key, hypothesis_hash, parse_cohort_key
from gtm_pipeline.store import schema as t
from gtm_pipeline.store.records import utc
from gtm_pipeline.store.unit import Store

_HEX = "0123456789abcdef"


def cohort_members(store: Store, key: str) -> list[str]:
    """The prospect ids of cohort ``key``, in discovery order. A key no prospect maps to is empty.

    Raises :class:`~gtm_pipeline.domain.cohorts.InvalidCohortKeyError` for a malformed key."""
    cohort = parse_cohort_key(key)
    p = t.prospects.c
    with store.reading() as c:
        slugs = [s for (s,) in c.execute(sa.select(p.hypothesis_slug).distinct())]
        matching = [s for s in slugs if hypothesis_hash(s) == cohort.hypothesis_hash]
        if not matching:
            return []
        start, end = cohort.week_bounds()
        digits = [d for d in _HEX if int(d, 16) % BUCKETS == cohort.bucket]
        query = (
            sa.select(p.id)
            .where(
                p.hypothesis_slug.in_(matching),
                p.discovered_at >= start,
                p.discovered_at < end,
                sa.func.substr(p.id, 3, 1).in_(digits),
            )
            .order_by(p.discovered_at, p.id)
        )
        return [str(pid) for (pid,) in c.execute(query)]


def cohort_sizes(store: Store) -> dict[str, int]:
    """How many prospects each cohort holds, by key (sorted: hypothesis, week, bucket), for every
    cohort that holds at least one: what a migration registers as Dagster partitions."""
    p = t.prospects.c
    with store.reading() as c:
        rows = c.execute(sa.select(p.id, p.hypothesis_slug, p.discovered_at)).all()
    sizes = Counter(cohort_key(pid, slug, utc(at)) for pid, slug, at in rows)
    return dict(sorted(sizes.items()))


def cohort_keys(store: Store) -> list[str]:
    """Every cohort that holds at least one prospect, sorted (see :func:`cohort_sizes`)."""
    return list(cohort_sizes(store))


def cohorts_for(store: Store, prospect_ids: Iterable[str]) -> dict[str, list[str]]:
    """The wanted prospects grouped by cohort (each group in discovery order): what a sensor turns
    into one run per cohort, with the prospect ids inside the run. An id the store does not hold
    is refused (``KeyError`` naming them), never dropped from the runs without a word."""
    wanted = sorted(set(prospect_ids))
    p = t.prospects.c
    groups: dict[str, list[tuple[dt.datetime, str]]] = defaultdict(list)
    with store.reading() as c:
        for start in range(0, len(wanted), 900):  # stay under SQLite's bound-parameter limit
            chunk = wanted[start : start + 900]
            query = sa.select(p.id, p.hypothesis_slug, p.discovered_at).where(p.id.in_(chunk))
            for pid, slug, at in c.execute(query):
                groups[cohort_key(pid, slug, utc(at))].append((utc(at), pid))
    found = {pid for members in groups.values() for _at, pid in members}
    if missing := [pid for pid in wanted if pid not in found]:
        raise KeyError(f"{len(missing)} prospect id(s) not in the store: {', '.join(missing[:5])}")
    return {key: [pid for _at, pid in sorted(members)] for key, members in sorted(groups.items())}

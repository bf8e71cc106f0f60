"""Cohort keys: what Dagster partitions by past 100,000 prospects (pure; see docs/scale.md).

One Dagster partition per prospect stops being workable around Dagster's recommended 100,000
partitions per asset: every sensor tick and every ranged run reads every key, a scattered re-score
splits into thousands of runs, and the UI slows. A *cohort* groups the prospects of one hypothesis
discovered in one ISO week, split into ``BUCKETS`` buckets by the prospect id, so a week's import
of any size still spreads over several runs:

    c_<hypothesis hash>_<iso year>w<iso week>_<bucket>      e.g. c_5e0c2a91d4_2026w48_3

The key is a pure function of three facts that never change once a prospect exists (its id, its
hypothesis, the moment it was discovered), so a prospect's cohort is stable: registering it twice is
the same key. It names no company and no person: the hypothesis as a hash, a week, and a bucket
taken from the opaque prospect id. Erasing a person therefore never touches a cohort key, and
Dagster's event log never holds what an erasure would have to remove. The inverse (which prospects
a cohort holds) is a question for the store: :mod:`gtm_pipeline.store.cohorts`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass

from gtm_pipeline.domain.ids import is_prospect_id

COHORT_PREFIX = "c_"
BUCKETS = 8  # a week's prospects of one hypothesis spread over this many cohorts
_HYPOTHESIS_HEX = 10
_COHORT_RE = re.compile(rf"^{COHORT_PREFIX}([0-9a-f]{{{_HYPOTHESIS_HEX}}})_(\d{{4}})w(\d{{2}})_([0-7])$")


class InvalidCohortKeyError(ValueError):
    """A string that is not a cohort key."""


@dataclass(frozen=True, order=True)
class Cohort:
    """A cohort key's parts. Ordered by hypothesis hash, then week, then bucket."""

    hypothesis_hash: str
    year: int
    week: int
    bucket: int

    @property
    def key(self) -> str:
        return f"{COHORT_PREFIX}{self.hypothesis_hash}_{self.year:04d}w{self.week:02d}_{self.bucket}"

    def week_bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """The week, Monday 00:00 UTC to the next Monday, as ``[start, end)``."""
        start = dt.datetime.combine(dt.date.fromisocalendar(self.year, self.week, 1), dt.time(), dt.UTC)
        return start, start + dt.timedelta(days=7)


def hypothesis_hash(slug: str) -> str:
    """The hypothesis as it appears in a cohort key (a hash: slugs are chosen by the operator)."""
    return hashlib.sha256(f"gtm:hypothesis:v1:{slug}".encode()).hexdigest()[:_HYPOTHESIS_HEX]


def bucket_of(prospect_id: str) -> int:
    """The prospect's bucket: the first hex digit of its id (uniform: the id is a hash), modulo
    ``BUCKETS``. Depends on the id alone, so it never changes."""
    if not is_prospect_id(prospect_id):
        raise InvalidCohortKeyError(f"not a prospect id: {prospect_id!r}")
    return int(prospect_id[2], 16) % BUCKETS


def cohort_of(prospect_id: str, hypothesis_slug: str, discovered_at: dt.datetime) -> Cohort:
    """The cohort of a prospect, from the facts that never change once it exists."""
    if discovered_at.tzinfo is None:
        raise ValueError("discovered_at must be timezone-aware (the store hands back UTC)")
    year, week, _day = discovered_at.astimezone(dt.UTC).isocalendar()
    return Cohort(hypothesis_hash(hypothesis_slug), year, week, bucket_of(prospect_id))


def cohort_key(prospect_id: str, hypothesis_slug: str, discovered_at: dt.datetime) -> str:
    """The Dagster partition key of the prospect's cohort."""
    return cohort_of(prospect_id, hypothesis_slug, discovered_at).key


def parse_cohort_key(key: str) -> Cohort:
    """A cohort key's parts; raises :class:`InvalidCohortKeyError` for anything else."""
    match = _COHORT_RE.match(key)
    if match is None:
        raise InvalidCohortKeyError(f"not a cohort key: {key!r}")
    h, year, week, bucket = match.groups()
    try:
        dt.date.fromisocalendar(int(year), int(week), 1)
    except ValueError:
        raise InvalidCohortKeyError(f"no such ISO week in a cohort key: {key!r}") from None
    return Cohort(h, int(year), int(week), int(bucket))


def is_cohort_key(value: str) -> bool:
    """True when ``value`` is a well-formed cohort key (no lookup involved)."""
    try:
        parse_cohort_key(value)
    except InvalidCohortKeyError:
        return False
    return True

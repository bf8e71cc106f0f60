"""Cohort partitions: the Dagster side of the plan for past 100,000 prospects (docs/scale.md).

Not wired into the graph yet: today's assets are partitioned by prospect (``defs/partitions.py``).
This module holds what the cohort-partitioned assets will use, so that the keys, the run requests
and the resolution of a run's prospects are fixed and tested before the switch:

- ``cohort_partitions``: a dynamic partition per cohort (``c_<hypothesis hash>_<yyyy>w<ww>_<b>``,
  see :mod:`gtm_pipeline.domain.cohorts`), registered idempotently by :func:`register_cohorts`;
- ``COHORT_BACKFILL``: a backfill runs a few cohorts per run (a cohort holds hundreds of prospects);
- :class:`CohortScope`: a run's config. Empty, the run covers every prospect of its cohorts (a
  backfill, a re-score); with ``prospects``, only those (a sensor's replies, a follow-up): the
  prospect ids travel inside the run, never as partitions;
- :func:`run_prospects`: the prospects a run must handle, checked against its cohorts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import dagster as dg
from pydantic import Field

from gtm_pipeline.store import Store
from gtm_pipeline.store.cohorts import cohort_members, cohorts_for

COHORTS = "cohorts"
cohort_partitions = dg.DynamicPartitionsDefinition(name=COHORTS)

# A cohort is a week's prospects of one hypothesis in one of eight buckets: about 120 each at
# 100,000 prospects a year over two hypotheses. Four cohorts a run keeps a run near today's 500.
COHORTS_PER_RUN = 4
COHORT_BACKFILL = dg.BackfillPolicy.multi_run(max_partitions_per_run=COHORTS_PER_RUN)


class CohortScope(dg.Config):
    """Which prospects of the run's cohorts to handle: every one when ``prospects`` is empty."""

    prospects: list[str] = Field(default_factory=list)


class ScopeError(ValueError):
    """A run asked for a prospect outside its cohorts: a bug in whoever built the request."""


def register_cohorts(instance: dg.DagsterInstance, keys: Sequence[str]) -> int:
    """Add the cohort partitions Dagster does not know yet; returns how many were new.

    Reads every registered cohort once: there are a few thousand, not a few hundred thousand."""
    known = set(instance.get_dynamic_partitions(COHORTS))
    new = [k for k in dict.fromkeys(keys) if k not in known]
    if new:
        instance.add_dynamic_partitions(COHORTS, new)
    return len(new)


def cohort_run_requests(
    store: Store, prospect_ids: Sequence[str], run_key: str, assets: Sequence[str]
) -> list[dg.RunRequest]:
    """One run per cohort holding any of ``prospect_ids``, carrying exactly those ids in its config
    (for each of ``assets``' ops): never a run over a prospect that was not asked for."""
    requests = []
    for cohort, members in cohorts_for(store, prospect_ids).items():
        config: Mapping[str, object] = {"ops": {a: {"config": {"prospects": members}} for a in assets}}
        requests.append(
            dg.RunRequest(
                run_key=f"{run_key}:{cohort}:{len(members)}", partition_key=cohort, run_config=config
            )
        )
    return requests


def run_prospects(store: Store, partition_keys: Sequence[str], scope: CohortScope) -> list[str]:
    """The prospects a cohort run handles: every member of its cohorts, or the scope's ids, each of
    which must belong to one of them (else :class:`ScopeError`: nothing is silently dropped)."""
    members = [pid for key in partition_keys for pid in cohort_members(store, key)]
    if not scope.prospects:
        return members
    inside = set(members)
    outside = [pid for pid in scope.prospects if pid not in inside]
    if outside:
        raise ScopeError(f"{len(outside)} prospect(s) not in this run's cohorts, first {outside[0]}")
    return list(dict.fromkeys(scope.prospects))

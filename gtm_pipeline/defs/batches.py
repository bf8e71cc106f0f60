"""Skill calls through the providers' batch APIs: the run tag that asks for them, and their sensor.

* ``gtm/batch=1`` on a run (a backfill or re-score, set by the operator) switches the runner to
  deferred mode for that run (``names.batch_requested``, read by ``steps.run_step``): the calls of
  ``batch: true`` groups are queued, not made, and their prospects wait. Runs without it (the
  new-prospects sensor, an operator's single run) call directly, so a fresh prospect never waits.
* ``skill_batches`` sensor: each tick collects the batches that ended (results checked, priced at
  the batch discount, journaled under the direct call's key), submits what is queued (one batch
  per provider, within a time budget: ``PASS_BUDGET_S``), then requests runs of exactly the
  prospects whose calls settled (a run key per set of rows; the run marks them): the run reuses
  the journaled result with no call, or, for a call handed back to direct calls (a host without a
  batch API), calls it. Those runs carry ``gtm/batch=1`` too, so the next step's calls of a batch
  group (a draft after its profile) are queued in turn instead of made at the list price.
"""

from __future__ import annotations

import dagster as dg

from gtm_pipeline.defs.names import BATCH_TAG
from gtm_pipeline.defs.partitions import PROSPECTS, report_blocked, tick_for_rows
from gtm_pipeline.defs.pipeline import prospect_job
from gtm_pipeline.defs.resources import GtmResource
from gtm_pipeline.pipeline.batch_queue import BatchQueue
from gtm_pipeline.store.skill_batches import SkillBatches

MAX_RUNS_PER_TICK = 25
MAX_SETTLED_PER_TICK = 5000


@dg.sensor(job=prospect_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def skill_batches(context: dg.SensorEvaluationContext, gtm: GtmResource) -> dg.SensorResult | dg.SkipReason:
    """Collect ended batches, submit queued calls, and run the prospects whose calls settled."""
    services = gtm.services
    done = BatchQueue(services).run_pass()
    context.log.info(f"skill batches: {done.summary()}")
    items = SkillBatches(services.store)
    rows = items.settled_unrequested(MAX_SETTLED_PER_TICK)
    if not rows:
        return dg.SkipReason(f"no settled batch calls to run ({done.summary()})")
    tick = tick_for_rows(
        rows,
        context.instance.get_dynamic_partitions(PROSPECTS),
        "batch",
        cursor=0,
        max_runs=MAX_RUNS_PER_TICK,
    )
    report_blocked(services.store, "skill_batches", tick)
    # Not marked here: a run marks its prospects' items when it starts (``steps.run_step``), so run
    # requests Dagster drops (the tick timed out) leave the rows for the next tick, whose requests
    # carry the same run keys (derived from the rows) and are launched once. Rows naming no
    # prospect have no run to wait for: marked now, or they would hold every tick's window.
    items.mark_requested([row for row, prospect in rows if prospect is None and row <= tick.cursor])
    requests = [r.with_replaced_attrs(tags={**r.tags, BATCH_TAG: "1"}) for r in tick.requests]
    if not requests:
        return dg.SkipReason(f"settled batch calls wait for their prospects' partitions ({done.summary()})")
    return dg.SensorResult(run_requests=requests)

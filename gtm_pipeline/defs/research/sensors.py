"""``new_prospects``: prospects that discovery registered but nobody has researched yet become runs
over exactly those partitions (one run for a discovery's batch, which is registered contiguously;
never the partitions in between). Its cursor is one integer, the journal row of the last prospect
requested, so each prospect is requested once whatever the number of prospects.
"""

import dagster as dg

from gtm_pipeline.defs.partitions import PROSPECTS, report_blocked, row_cursor, tick_for_rows
from gtm_pipeline.defs.pipeline import prospect_job
from gtm_pipeline.defs.resources import GtmResource
from gtm_pipeline.domain.states import State

MAX_PROSPECTS_PER_TICK = 500


@dg.sensor(job=prospect_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def new_prospects(context: dg.SensorEvaluationContext, gtm: GtmResource) -> dg.SensorResult | dg.SkipReason:
    """Request research for newly discovered prospects: exactly those partitions, each once."""
    after, legacy = row_cursor(context.cursor)
    if legacy:
        context.log.info("cursor from an older version: starting over from the first waiting prospect")
    entered = gtm.services.store.prospects.entered_state_after(
        State.DISCOVERED, after, MAX_PROSPECTS_PER_TICK
    )
    if not entered:
        return dg.SkipReason("no newly discovered prospects")
    tick = tick_for_rows(
        [(row, pid) for row, pid in entered],
        context.instance.get_dynamic_partitions(PROSPECTS),
        "research",
        cursor=after,
    )
    report_blocked(gtm.services.store, "new_prospects", tick)
    if not tick.requests:
        return dg.SkipReason("new prospects are not registered as partitions yet")
    return dg.SensorResult(run_requests=tick.requests, cursor=str(tick.cursor))

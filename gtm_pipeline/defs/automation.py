"""Schedules and sensors.

* ``daily_discovery`` materializes every hypothesis and its discovery once a day.
* ``hourly_time_rules`` applies the time-based rules (follow-up due, unresponsive, not-now
  revisit, retention erasure) with the wall clock, and re-anchors the journal of every
  prospect it moved.
* ``new_prospects`` turns prospects that discovery registered but nobody has researched
  yet into runs over exactly those partitions (one run for a discovery's batch, which is
  registered contiguously; never the partitions in between). Its cursor is one integer, the
  journal row of the last prospect requested, so each prospect is requested once whatever
  the number of prospects.
"""

import dagster as dg

from gtm_pipeline.defs.discovery import DISCOVERY_GROUP
from gtm_pipeline.defs.partitions import PROSPECTS, report_blocked, row_cursor, tick_for_rows
from gtm_pipeline.defs.prospects import PROSPECT_ASSETS, journal_anchor_event
from gtm_pipeline.defs.resources import GtmResource
from gtm_pipeline.domain.states import State
from gtm_pipeline.pipeline.timekeeping import apply, plan, sequence_policy

MAX_PROSPECTS_PER_TICK = 500

discovery_job = dg.define_asset_job(
    "discovery_job",
    selection=dg.AssetSelection.groups(DISCOVERY_GROUP),
    description="Every hypothesis' discovery.",
)
prospect_job = dg.define_asset_job(
    "prospect_pipeline_job",
    selection=dg.AssetSelection.assets(*PROSPECT_ASSETS),
    description="Research and drafting for a range of prospect partitions.",
)

daily_discovery = dg.ScheduleDefinition(
    name="daily_discovery",
    job=discovery_job,
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)


@dg.sensor(job=prospect_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def new_prospects(context: dg.SensorEvaluationContext, gtm: GtmResource) -> dg.SensorResult | dg.SkipReason:
    """Request research for newly discovered prospects: exactly those partitions, each once."""
    after, legacy = row_cursor(context.cursor)
    if legacy:
        context.log.info("cursor from an older version: starting over from the first waiting prospect")
    entered = gtm.services.store.entered_state_after(State.DISCOVERED, after, MAX_PROSPECTS_PER_TICK)
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


@dg.op(description="Apply the time-based rules due now; journal every decision; re-anchor changed journals.")
def apply_time_rules(context: dg.OpExecutionContext, gtm: GtmResource) -> None:
    services = gtm.services
    now = services.clock.now()
    planned = plan(
        services.store, sequence_policy(services.catalog), now, services.settings.privacy.retention_days
    )
    decisions = apply(services.store, planned, now)
    for item in planned:
        context.log_event(journal_anchor_event(services, item.prospect_id))
    context.log.info(f"time rules at {now.isoformat()}: {len(planned)} due, {len(decisions)} transitions")


@dg.job(description="The time-based rules of the state machine, applied once.")
def time_rules_job() -> None:
    apply_time_rules()


hourly_time_rules = dg.ScheduleDefinition(
    name="hourly_time_rules",
    job=time_rules_job,
    cron_schedule="7 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

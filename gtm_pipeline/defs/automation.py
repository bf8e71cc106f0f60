"""Schedules and sensors.

* ``daily_discovery`` materializes every hypothesis and its discovery once a day.
* ``new_prospects`` turns prospects that discovery registered but nobody has researched
  yet into *one* run over their partition range (not one run per prospect), with a cursor
  so each prospect is requested once even if the sensor ticks again before the run ends.
"""

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from gtm_pipeline.defs.discovery import DISCOVERY_GROUP
from gtm_pipeline.defs.partitions import PROSPECTS
from gtm_pipeline.defs.prospects import PROSPECT_ASSETS
from gtm_pipeline.defs.resources import GtmResource
from gtm_pipeline.domain.states import State

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
    """Request research for newly discovered prospects, in partition order, in one run per tick."""
    seen = set(context.cursor.split(",")) if context.cursor else set()
    waiting = {p.id for p in gtm.services.store.list_prospects(states=[State.DISCOVERED])}
    partitions = context.instance.get_dynamic_partitions(PROSPECTS)
    todo = [key for key in partitions if key in waiting and key not in seen][:MAX_PROSPECTS_PER_TICK]
    if not todo:
        return dg.SkipReason("no newly discovered prospects")
    run = dg.RunRequest(
        run_key=f"research:{todo[0]}:{todo[-1]}:{len(todo)}",
        tags={ASSET_PARTITION_RANGE_START_TAG: todo[0], ASSET_PARTITION_RANGE_END_TAG: todo[-1]},
    )
    # The cursor keeps only prospects still waiting, so it stays small.
    return dg.SensorResult(run_requests=[run], cursor=",".join(sorted((seen & waiting) | set(todo))))

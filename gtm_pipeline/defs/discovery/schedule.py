"""Discovery once a day: every hypothesis and its discovery."""

import dagster as dg

from gtm_pipeline.defs.discovery.hypotheses import DISCOVERY_GROUP

discovery_job = dg.define_asset_job(
    "discovery_job",
    selection=dg.AssetSelection.groups(DISCOVERY_GROUP),
    description="Every hypothesis' discovery.",
    # a process per step, as before the location's default became in process (../executor.py):
    # the hypotheses' discoveries ask their sources side by side
    executor_def=dg.multi_or_in_process_executor,
)

daily_discovery = dg.ScheduleDefinition(
    name="daily_discovery",
    job=discovery_job,
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

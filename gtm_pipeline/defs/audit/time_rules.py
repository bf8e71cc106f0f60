"""The time-based rules, hourly: follow-up due, unresponsive, not-now revisit, retention erasure,
applied with the resource's clock; every prospect moved gets its journal re-anchored.
"""

import dagster as dg

from gtm_pipeline.defs.anchors import journal_anchor_event
from gtm_pipeline.defs.resources import GtmResource
from gtm_pipeline.pipeline.timekeeping import apply, plan, sequence_policy


@dg.op(description="Apply the time-based rules due now; journal every decision; re-anchor changed journals.")
def apply_time_rules(context: dg.OpExecutionContext, gtm: GtmResource) -> None:
    services = gtm.services
    now = services.clock.now()
    planned = plan(
        services.store, sequence_policy(services.catalog), now, services.settings.privacy.retention_days
    )
    decisions = apply(services.store, planned, now, pages=services.pages)
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

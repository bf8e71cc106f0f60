"""The CRM sync in Dagster: one job (erasures, pushes, the deal poll) and its schedule.

* ``crm_sync_every_10_minutes`` runs while ``crm.kind`` is not ``none``; with the CRM off a tick
  says so (a SkipReason, visible in the UI) and starts nothing. The schedule ticks rather than a
  sensor watching the journal because the deal poll has to ask the CRM anyway: one pass does all.
* The run logs counts by outcome only (no domain, address or CRM content); tags hold the CRM's
  kind; the prospects touched are journaled (by opaque id) on their own timelines.
* A HubSpot configured without its token fails the run (``dg.Failure``): a CRM asked for and not
  reachable is an incident, not a quiet no-op.
"""

import dagster as dg

from gtm_pipeline.crm.build import CrmNotConfiguredError, build_sink, crm_settings
from gtm_pipeline.crm.sync import run_all
from gtm_pipeline.defs.resources import GtmResource

CRM_SCHEDULE = "crm_sync_every_10_minutes"


@dg.op(description="Delete what erasures ask for, push positive conversations, read deal stages back.")
def crm_sync(context: dg.OpExecutionContext, gtm: GtmResource) -> None:
    services = gtm.services
    crm = crm_settings(services.settings)
    try:
        sink = build_sink(services.settings, crm, clock=services.clock)
    except CrmNotConfiguredError as exc:
        raise dg.Failure(str(exc)) from None
    if sink is None:
        context.log.info("the CRM is off (crm.kind = none): nothing was pushed or read")
        return
    counts = run_all(services.store, sink, crm, console_url=services.settings.alerts.console_url)
    context.log.info(f"crm ({sink.name}): {counts}")


@dg.job(description="One CRM pass: erasures, pushes, the deal poll.")
def crm_sync_job() -> None:
    crm_sync()


@dg.schedule(
    name=CRM_SCHEDULE,
    job=crm_sync_job,
    cron_schedule="*/10 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="The CRM pass every 10 minutes while crm.kind is not none.",
)
def crm_sync_every_10_minutes(
    context: dg.ScheduleEvaluationContext, gtm: GtmResource
) -> dg.RunRequest | dg.SkipReason:
    crm = crm_settings(gtm.services.settings)
    if crm.kind == "none":
        return dg.SkipReason("the CRM is off (crm.kind = none in gtm.toml): nothing to push or read")
    try:
        key = f"crm:{context.scheduled_execution_time.isoformat()}"
    except Exception:  # no scheduled time outside a daemon tick (a preview)
        key = None
    return dg.RunRequest(run_key=key, tags={"gtm/crm": crm.kind})

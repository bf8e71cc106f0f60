"""Every failed run of this code location becomes an escalation (nothing fails silently)."""

import dagster as dg

from gtm_pipeline.defs.resources import GtmResource


@dg.run_failure_sensor(default_status=dg.DefaultSensorStatus.RUNNING, monitor_all_code_locations=False)
def failed_runs(context: dg.RunFailureSensorContext, gtm: GtmResource) -> None:
    """Record every failed run of this code location as an escalation (once per run)."""
    run = context.dagster_run
    message = (context.failure_event.message or "run failed").splitlines()[0][:300]
    gtm.services.store.escalations.raise_(
        "run_failure", f"run_failure:{run.run_id}", subject=run.run_id, detail=f"{run.job_name}: {message}"
    )

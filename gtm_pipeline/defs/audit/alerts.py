"""Escalations on the operator's phone: every minute, each new escalation is posted once per
configured channel (Slack and/or Telegram), and acknowledged ones are closed.

A sensor, not a run: a pass is a few small HTTP posts, done in the sensor's evaluation within a
time budget well under Dagster's evaluation timeout (what is left waits for the next tick). It
requests no run; its tick says what it did. The channels' keys are read from the settings by the
alerts package alone: nothing of them reaches Dagster's config, tags or metadata.
"""

import dagster as dg

from gtm_pipeline.alerts.dispatch import dispatch
from gtm_pipeline.alerts.setup import NOT_CONFIGURED, channels_from_settings
from gtm_pipeline.defs.resources import GtmResource

# Dagster gives a sensor evaluation 60 s by default: a pass starts a message only if even its
# slowest outcome (three timeouts and the waits) ends within the budget.
PASS_BUDGET_S = 45.0
MAX_WAIT_S = 10.0  # a longer Retry-After defers the message to a later tick


@dg.sensor(
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Post each new escalation once to Slack and/or Telegram, with a link to the console.",
)
def escalation_alerts(context: dg.SensorEvaluationContext, gtm: GtmResource) -> dg.SkipReason:
    services = gtm.services
    try:
        channels = channels_from_settings(services.settings)
    except ValueError as exc:  # half configured: said on every tick, never ignored
        return dg.SkipReason(str(exc))
    if not channels:
        return dg.SkipReason(NOT_CONFIGURED)
    try:
        report = dispatch(
            services.store, channels, services.settings.alerts, budget_s=PASS_BUDGET_S, max_wait_s=MAX_WAIT_S
        )
    finally:
        for channel in channels:
            channel.close()
    context.log.info(report.summary())
    return dg.SkipReason(report.summary())

"""Sending: the send step, its schedule, and the sending switch.

* ``send_every_15_minutes`` starts **stopped**, and sends only while the journaled sending
  switch is on. The switch is thrown explicitly, with who and why: ``gtm sending start`` /
  ``stop`` (which also start and stop this schedule), or ``sending_switch_job`` launched from
  the Dagster UI's launchpad. While the switch is off a tick sends nothing and says why.
  Without a Resend key the send step sends nothing and says so.
"""

from collections import Counter

import dagster as dg

from gtm_pipeline.defs.anchors import journal_anchor_event
from gtm_pipeline.defs.names import SEND_SCHEDULE
from gtm_pipeline.defs.resources import GtmResource, ResendResource
from gtm_pipeline.outreach.resend_client import SendingNotConfiguredError
from gtm_pipeline.outreach.sender import run_sending
from gtm_pipeline.store.ledger import SWITCH_OFF

UI_ACTOR = "dagster-ui"


@dg.op(description="Schedule approved drafts and send what the deliverability policy allows now.")
def send_due_touches(context: dg.OpExecutionContext, gtm: GtmResource, resend: ResendResource) -> None:
    services = gtm.services
    ledger = services.store.ledger
    if not ledger.sending_on():
        context.log.info("sending is switched off (gtm sending start): nothing was sent")
        return
    try:
        client = resend.client()
    except SendingNotConfiguredError as exc:
        context.log.info(f"{exc}; approved drafts wait")
        return
    reports = run_sending(services.store, services.sending, client, services.clock.now())
    for report in reports:
        if report.outcome == "sent":
            context.log_event(journal_anchor_event(services, report.prospect_id, touch_id=report.touch_id))
    context.log.info(f"send: {dict(Counter(r.outcome for r in reports))}")


@dg.job(description="One pass of the send step.")
def send_job() -> None:
    send_due_touches()


class SendingSwitch(dg.Config):
    """Switch sending on or off from the Dagster UI's launchpad (journaled with the name given)."""

    on: bool
    operator: str
    reason: str


@dg.op(description="Switch sending on or off: journaled with who and why; nothing is sent while off.")
def switch_sending(context: dg.OpExecutionContext, config: SendingSwitch, gtm: GtmResource) -> None:
    if not config.operator.strip() or not config.reason.strip():
        raise dg.Failure("name the operator and the reason: both are kept in the journal")
    actor = f"{UI_ACTOR}:{config.operator.strip()}"
    gtm.services.store.ledger.switch_sending(
        config.on,
        actor=actor,
        reason=f"{config.reason.strip()} (run {context.run.run_id})",
        schedule="not changed",
    )
    state = "on" if config.on else "off"
    context.log.info(
        f"sending switched {state} by {actor}; the send schedule is started or stopped on its own"
    )


@dg.job(
    description="Switch sending on or off from the Dagster UI (then start or stop send_every_15_minutes)."
)
def sending_switch_job() -> None:
    switch_sending()


@dg.schedule(
    name=SEND_SCHEDULE,
    job=send_job,
    cron_schedule="*/15 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="The send step every 15 minutes; it sends only while sending is switched on.",
)
def send_every_15_minutes(
    context: dg.ScheduleEvaluationContext, gtm: GtmResource
) -> dg.RunRequest | dg.SkipReason:
    """Starts stopped. A tick requests a send pass only while the journaled switch is on: starting this
    schedule is not switching sending on (an evaluation, a preview or a test tick must never act), so a
    tick with the switch off says how to switch it on, and changes nothing."""
    switch = gtm.services.store.ledger.sending_switch()
    if switch is None or switch.kind == SWITCH_OFF:
        since = (
            f" by {switch.actor} at {switch.created_at:%Y-%m-%d %H:%M}" if switch else " (never switched on)"
        )
        return dg.SkipReason(
            f"sending is switched off{since}: `gtm sending start`, or launch {sending_switch_job.name} "
            "with on: true in the launchpad"
        )
    return dg.RunRequest(run_key=_tick_key(context), tags={"gtm/sending_switch": switch.entry_id})


def _tick_key(context: dg.ScheduleEvaluationContext) -> str | None:
    """One send pass per tick, across daemon restarts (no key outside a daemon tick: a preview)."""
    try:
        return f"send:{context.scheduled_execution_time.isoformat()}"
    except Exception:  # dagster raises when the context has no scheduled time
        return None

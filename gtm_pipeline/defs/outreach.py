"""Outreach on Dagster: the send schedule, the inbox sensor and the ``conversation`` asset.

* ``send_every_15_minutes`` starts **stopped**, and sends only while the journaled sending
  switch is on. The switch is thrown explicitly, with who and why: ``gtm sending start`` /
  ``stop`` (which also start and stop this schedule), or ``sending_switch_job`` launched from
  the Dagster UI's launchpad. While the switch is off a tick sends nothing and says why.
  Without a Resend key the send step sends nothing and says so.
* ``inbox_events`` sensor: a cursor over the inbox table (row ids, not ``run_key`` alone);
  new events become runs of ``conversation_job`` over exactly the affected prospects'
  partitions, so every reply and delivery event is visible per prospect in the UI.
* ``follow_ups_due`` sensor: prospects the time rules moved to ``follow_up_due`` get a run
  of the prospect pipeline, which drafts the follow-up with the same skill.
"""

from collections import Counter

import dagster as dg

from gtm_pipeline.defs.automation import prospect_job
from gtm_pipeline.defs.catalog import skill_catalog
from gtm_pipeline.defs.names import SEND_SCHEDULE
from gtm_pipeline.defs.partitions import (
    PROSPECT_BACKFILL,
    PROSPECTS,
    prospect_partitions,
    report_blocked,
    row_cursor,
    tick_for_rows,
)
from gtm_pipeline.defs.pools import pool_for
from gtm_pipeline.defs.prospects import journal, journal_anchor_event
from gtm_pipeline.defs.resources import GtmResource, ResendResource
from gtm_pipeline.domain.states import State
from gtm_pipeline.outreach.classify import CLASSIFY_SKILL
from gtm_pipeline.outreach.inbound import Processor
from gtm_pipeline.outreach.resend_client import SendingNotConfiguredError
from gtm_pipeline.outreach.sender import run_sending
from gtm_pipeline.store.outreach import SWITCH_OFF, OutreachLedger

MAX_EVENTS_PER_TICK = 5000
MAX_RUNS_PER_TICK = 25
UI_ACTOR = "dagster-ui"


def _fetch(resend: ResendResource):  # type: ignore[no-untyped-def]
    """The receiving API when Resend is configured, else None (bodies are fetched later)."""
    try:
        return resend.client().received
    except SendingNotConfiguredError:
        return None


@dg.asset(
    partitions_def=prospect_partitions,
    backfill_policy=PROSPECT_BACKFILL,
    group_name="outreach",
    code_version=f"inbound@1+{skill_catalog().skill(CLASSIFY_SKILL).code_version}",
    pool=pool_for(CLASSIFY_SKILL),
    kinds={"sqlite"},
    description=(
        "Delivery events and replies of the prospect, classified (rules first, then classify-reply) "
        "and applied to the state machine, one transition per event at most."
    ),
)
def conversation(
    context: dg.AssetExecutionContext, gtm: GtmResource, resend: ResendResource
) -> dg.MaterializeResult:
    services = gtm.services
    processor = Processor(
        services.store,
        services.catalog,
        services.runner,
        _fetch(resend),
        run_id=context.run.run_id,
        response_days=services.settings.privacy.rights_response_days,
    )
    outcomes = processor.process(list(context.partition_keys), now=services.clock.now())
    per_prospect: dict[str, list[dict[str, object]]] = {}
    for item in outcomes:
        per_prospect.setdefault(str(item["prospect_id"]), []).append(item)
    for prospect_id in context.partition_keys:
        items = per_prospect.get(prospect_id, [])
        prospect = services.store.get_prospect(prospect_id)
        context.add_asset_metadata(
            {
                "prospect_id": prospect_id,
                "events": len(items),
                "categories": ", ".join(sorted({str(i["category"]) for i in items if i.get("category")})),
                "decided_by": ", ".join(sorted({str(i["decided_by"]) for i in items if i.get("decided_by")})),
                "state": prospect.state.value if prospect else "unknown",
            },
            partition_key=prospect_id,
        )
    kinds = Counter(str(i.get("category") or i.get("note") or i.get("to")) for i in outcomes)
    return dg.MaterializeResult(metadata={"run_events": len(outcomes), "run_outcomes": str(dict(kinds))})


conversation_job = dg.define_asset_job(
    "conversation_job",
    selection=dg.AssetSelection.assets(conversation, journal),
    description="Replies and delivery events for a set of prospect partitions, then the journal anchors.",
)


@dg.sensor(job=conversation_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def inbox_events(context: dg.SensorEvaluationContext, gtm: GtmResource) -> dg.SensorResult | dg.SkipReason:
    """New inbox rows -> runs over exactly the affected prospects (cursor: the last row id handled)."""
    last, _legacy = row_cursor(context.cursor)  # this cursor was always a row id
    rows = OutreachLedger(gtm.services.store).events_after(last, MAX_EVENTS_PER_TICK)
    if not rows:
        return dg.SkipReason("no new inbox events")
    tick = tick_for_rows(
        rows,
        context.instance.get_dynamic_partitions(PROSPECTS),
        "inbox",
        cursor=last,
        max_runs=MAX_RUNS_PER_TICK,
    )
    report_blocked(gtm.services.store, "inbox_events", tick)
    if not tick.requests:
        reason = (
            f"{tick.unmatched} new event(s) match no prospect (see `gtm status`)"
            if tick.cursor > last
            else "the events' prospects are not registered as partitions yet"
        )
        return dg.SensorResult(skip_reason=reason, cursor=str(tick.cursor))
    return dg.SensorResult(run_requests=tick.requests, cursor=str(tick.cursor))


@dg.sensor(job=prospect_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def follow_ups_due(context: dg.SensorEvaluationContext, gtm: GtmResource) -> dg.SensorResult | dg.SkipReason:
    """Prospects whose follow-up is due get the prospect pipeline, which drafts the follow-up."""
    after, legacy = row_cursor(context.cursor)
    if legacy:
        context.log.info("cursor from an older version: starting over from the first prospect due")
    entered = gtm.services.store.entered_state_after(State.FOLLOW_UP_DUE, after, MAX_EVENTS_PER_TICK)
    if not entered:
        return dg.SkipReason("no follow-up due")
    tick = tick_for_rows(
        [(row, pid) for row, pid in entered],
        context.instance.get_dynamic_partitions(PROSPECTS),
        "follow-up",
        cursor=after,
        max_runs=MAX_RUNS_PER_TICK,
    )
    report_blocked(gtm.services.store, "follow_ups_due", tick)
    if not tick.requests:
        return dg.SkipReason("the prospects due are not registered as partitions yet")
    return dg.SensorResult(run_requests=tick.requests, cursor=str(tick.cursor))


@dg.op(description="Schedule approved drafts and send what the deliverability policy allows now.")
def send_due_touches(context: dg.OpExecutionContext, gtm: GtmResource, resend: ResendResource) -> None:
    services = gtm.services
    ledger = OutreachLedger(services.store)
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
    OutreachLedger(gtm.services.store).switch_sending(
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
    switch = OutreachLedger(gtm.services.store).sending_switch()
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

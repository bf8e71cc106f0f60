"""Outreach on Dagster: the send schedule, the inbox sensor and the ``conversation`` asset.

* ``send_every_15_minutes`` starts **stopped**: sending is switched on explicitly, with
  ``gtm sending start`` (which also starts this schedule) or by starting the schedule in the
  Dagster UI, which its first tick journals as the operator's switch (actor ``dagster-ui``).
  While sending is switched off a tick sends nothing and says why. Without a Resend key the
  send step sends nothing and says so.
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
from gtm_pipeline.defs.partitions import PROSPECT_BACKFILL, PROSPECTS, prospect_partitions, tick_for_rows
from gtm_pipeline.defs.pools import pool_for
from gtm_pipeline.defs.prospects import journal, journal_anchor_event
from gtm_pipeline.defs.resources import GtmResource, ResendResource
from gtm_pipeline.domain.states import State
from gtm_pipeline.outreach.classify import CLASSIFY_SKILL
from gtm_pipeline.outreach.inbound import Processor
from gtm_pipeline.outreach.resend_client import SendingNotConfiguredError
from gtm_pipeline.outreach.sender import run_sending
from gtm_pipeline.store.escalations import Escalations
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
    last = int(context.cursor or 0)
    rows = OutreachLedger(gtm.services.store).events_after(last, MAX_EVENTS_PER_TICK)
    if not rows:
        return dg.SkipReason("no new inbox events")
    tick = tick_for_rows(
        rows,
        context.instance.get_dynamic_partitions(PROSPECTS),
        f"inbox:{rows[0][0]}",
        cursor=last,
        max_runs=MAX_RUNS_PER_TICK,
    )
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
    after = int(context.cursor or 0)
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


def _tick_time(context: dg.ScheduleEvaluationContext, gtm: GtmResource) -> str:
    """The tick's scheduled time (its run key: one send pass per tick, across daemon restarts)."""
    try:
        return context.scheduled_execution_time.isoformat()
    except Exception:  # evaluated outside a daemon tick (a test, a preview): the store's clock
        return gtm.services.clock.now().isoformat()


@dg.schedule(
    name=SEND_SCHEDULE,
    job=send_job,
    cron_schedule="*/15 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="The send step every 15 minutes, once sending is switched on.",
)
def send_every_15_minutes(
    context: dg.ScheduleEvaluationContext, gtm: GtmResource
) -> dg.RunRequest | dg.SkipReason:
    """A tick sends only while sending is on. The schedule starts stopped, so a tick while the switch
    is off means someone started the schedule in the Dagster UI: that start is the operator's switch,
    journaled as such - unless sending was switched off while the schedule could not be stopped,
    in which case nothing is sent and the operator is told."""
    ledger = OutreachLedger(gtm.services.store)
    switch = ledger.sending_switch()
    tick = _tick_time(context, gtm)
    if switch is not None and switch.kind == SWITCH_OFF and switch.payload.get("schedule") != "stopped":
        Escalations(gtm.services.store).raise_(
            "sending_switch",
            f"sending_switch:{switch.entry_id}",
            subject=None,
            detail="the send schedule is running but sending was switched off: run `gtm sending start` "
            "to send, or stop the schedule in the Dagster UI",
        )
        return dg.SkipReason("sending is switched off (gtm sending start switches it on)")
    if switch is None or switch.kind == SWITCH_OFF:
        ledger.switch_sending(
            True, actor=UI_ACTOR, reason="the send schedule was started in the Dagster UI", schedule="running"
        )
    return dg.RunRequest(run_key=f"send:{tick}")

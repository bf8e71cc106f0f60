"""Outreach on Dagster: the send schedule, the inbox sensor and the ``conversation`` asset.

* ``send_job`` (every 15 minutes): schedule approved drafts and send what the
  deliverability policy allows. Without ``RESEND_API_KEY`` it sends nothing and says so.
* ``inbox_events`` sensor: a cursor over the inbox table (row ids, not ``run_key`` alone);
  new events become *one* run of ``conversation_job`` over the affected prospects'
  partition range, so every reply and delivery event is visible per prospect in the UI.
* ``follow_ups_due`` sensor: prospects the time rules moved to ``follow_up_due`` get a run
  of the prospect pipeline, which drafts the follow-up with the same skill.
"""

from collections import Counter

import dagster as dg

from gtm_pipeline.app import receiving_fetch
from gtm_pipeline.defs.automation import prospect_job
from gtm_pipeline.defs.catalog import skill_catalog
from gtm_pipeline.defs.partitions import PROSPECT_BACKFILL, PROSPECTS, prospect_partitions, range_run_request
from gtm_pipeline.defs.prospects import journal, journal_anchor_event
from gtm_pipeline.defs.resources import GtmResource
from gtm_pipeline.domain.states import State
from gtm_pipeline.outreach.classify import CLASSIFY_SKILL
from gtm_pipeline.outreach.inbound import Processor
from gtm_pipeline.outreach.resend_client import ResendClient, SendingNotConfiguredError
from gtm_pipeline.outreach.sender import run_sending
from gtm_pipeline.outreach.settings import sending_settings
from gtm_pipeline.store.outreach import OutreachLedger

MAX_EVENTS_PER_TICK = 5000


@dg.asset(
    partitions_def=prospect_partitions,
    backfill_policy=PROSPECT_BACKFILL,
    group_name="outreach",
    code_version=f"inbound@1+{skill_catalog().skill(CLASSIFY_SKILL).code_version}",
    kinds={"sqlite"},
    description=(
        "Delivery events and replies of the prospect, classified (rules first, then classify-reply) "
        "and applied to the state machine, one transition per event at most."
    ),
)
def conversation(context: dg.AssetExecutionContext, gtm: GtmResource) -> dg.MaterializeResult:
    services = gtm.services
    processor = Processor(
        services.store, services.catalog, services.runner, receiving_fetch(), run_id=context.run.run_id
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
    description="Replies and delivery events for a range of prospect partitions, then the journal anchors.",
)


def _range_request(context: dg.SensorEvaluationContext, wanted: set[str], key: str) -> dg.RunRequest | None:
    partitions = [p for p in context.instance.get_dynamic_partitions(PROSPECTS) if p in wanted]
    if not partitions:
        return None
    return range_run_request(partitions, key)


@dg.sensor(job=conversation_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def inbox_events(context: dg.SensorEvaluationContext, gtm: GtmResource) -> dg.SensorResult | dg.SkipReason:
    """New inbox rows -> one run over the affected prospects (cursor: the last row id seen)."""
    last = int(context.cursor or 0)
    rows = OutreachLedger(gtm.services.store).events_after(last, MAX_EVENTS_PER_TICK)
    if not rows:
        return dg.SkipReason("no new inbox events")
    cursor = str(rows[-1][0])
    request = _range_request(context, {pid for _id, pid in rows if pid}, f"inbox:{rows[0][0]}-{cursor}")
    if request is None:
        return dg.SensorResult(skip_reason="new events match no prospect (see `gtm status`)", cursor=cursor)
    return dg.SensorResult(run_requests=[request], cursor=cursor)


@dg.sensor(job=prospect_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def follow_ups_due(context: dg.SensorEvaluationContext, gtm: GtmResource) -> dg.SensorResult | dg.SkipReason:
    """Prospects whose follow-up is due get the prospect pipeline, which drafts the follow-up."""
    seen = set(context.cursor.split(",")) if context.cursor else set()
    due = {p.id for p in gtm.services.store.list_prospects(states=[State.FOLLOW_UP_DUE])}
    todo = due - seen
    request = _range_request(context, todo, "follow-up")
    if request is None:
        return dg.SkipReason("no follow-up due")
    return dg.SensorResult(run_requests=[request], cursor=",".join(sorted(due)))


@dg.op(description="Schedule approved drafts and send what the deliverability policy allows now.")
def send_due_touches(context: dg.OpExecutionContext, gtm: GtmResource) -> None:
    services = gtm.services
    try:
        client = ResendClient.from_environment()
    except SendingNotConfiguredError as exc:
        context.log.info(f"{exc}; approved drafts wait")
        return
    reports = run_sending(services.store, sending_settings(services.paths.home), client, services.clock.now())
    for report in reports:
        if report.outcome == "sent":
            context.log_event(journal_anchor_event(services, report.prospect_id, touch_id=report.touch_id))
    context.log.info(f"send: {dict(Counter(r.outcome for r in reports))}")


@dg.job(description="One pass of the send step.")
def send_job() -> None:
    send_due_touches()


send_every_15_minutes = dg.ScheduleDefinition(
    name="send_every_15_minutes",
    job=send_job,
    cron_schedule="*/15 * * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

"""Replies and delivery events, per prospect partition, and the sensors that start their runs.

* ``inbox_events`` sensor: a cursor over the inbox table (row ids, not ``run_key`` alone); new
  events become runs of ``conversation_job`` over exactly the affected prospects' partitions, so
  every reply and delivery event is visible per prospect in the UI.
* ``follow_ups_due`` sensor: prospects the time rules moved to ``follow_up_due`` get a run of the
  prospect pipeline, which drafts the follow-up with the same skill.
"""

import datetime as dt
from collections import Counter

import dagster as dg

from gtm_pipeline.defs.location import skill_catalog
from gtm_pipeline.defs.partitions import (
    PROSPECT_BACKFILL,
    PROSPECTS,
    position_cursor,
    position_text,
    prospect_partitions,
    report_blocked,
    row_cursor,
    tick_for_rows,
)
from gtm_pipeline.defs.pipeline import conversation_job, prospect_job
from gtm_pipeline.defs.pools import pool_for
from gtm_pipeline.defs.resources import GtmResource, ResendResource
from gtm_pipeline.defs.steps import PartitionMetadata
from gtm_pipeline.domain.states import State
from gtm_pipeline.outreach.classify import CLASSIFY_SKILL
from gtm_pipeline.outreach.processing import EventOutcome, InboxProcessor
from gtm_pipeline.outreach.resend_client import SendingNotConfiguredError
from gtm_pipeline.store import Store

MAX_EVENTS_PER_TICK = 5000

MAX_RUNS_PER_TICK = 25
# Events may wait this long behind a Postgres transaction still running before the operator is told.
HELD_GRACE = dt.timedelta(minutes=5)


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
    processor = InboxProcessor(
        services.store,
        services.catalog,
        services.runner,
        _fetch(resend),
        run_id=context.run.run_id,
        response_days=services.settings.privacy.rights_response_days,
    )
    outcomes = processor.process(list(context.partition_keys), now=services.clock.now())
    per_prospect: dict[str, list[EventOutcome]] = {}
    for item in outcomes:
        per_prospect.setdefault(str(item.prospect_id), []).append(item)
    per_partition = PartitionMetadata(context)
    for prospect_id in context.partition_keys:
        items = per_prospect.get(prospect_id, [])
        prospect = services.store.prospects.get(prospect_id)
        per_partition.add(
            prospect_id,
            {
                "prospect_id": prospect_id,
                "events": len(items),
                "categories": ", ".join(sorted({str(i.category) for i in items if i.category})),
                "decided_by": ", ".join(sorted({str(i.decided_by) for i in items if i.decided_by})),
                "state": prospect.state.value if prospect else "unknown",
            },
        )
    kinds = Counter(i.summary() for i in outcomes)
    return dg.MaterializeResult(metadata={"run_events": len(outcomes), "run_outcomes": str(dict(kinds))})


@dg.sensor(job=conversation_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def inbox_events(context: dg.SensorEvaluationContext, gtm: GtmResource) -> dg.SensorResult | dg.SkipReason:
    """New inbox rows -> runs over exactly the affected prospects (cursor: the last row handled, in
    commit order: ``Inbox.events_after``)."""
    store = gtm.services.store
    last = restarted_if_restored(store, position_cursor(context.cursor))
    rows = store.inbox.events_after(last, MAX_EVENTS_PER_TICK)
    if not rows:
        return dg.SkipReason(held_reason(store, last) or "no new inbox events")
    tick = tick_for_rows(
        rows,
        context.instance.get_dynamic_partitions(PROSPECTS),
        "inbox",
        cursor=last,
        max_runs=MAX_RUNS_PER_TICK,
    )
    report_blocked(store, "inbox_events", tick)
    if not tick.requests:
        reason = (
            f"{tick.unmatched} new event(s) match no prospect (see `gtm status`)"
            if tick.cursor > last
            else "the events' prospects are not registered as partitions yet"
        )
        return dg.SensorResult(skip_reason=reason, cursor=position_text(tick.cursor))
    return dg.SensorResult(run_requests=tick.requests, cursor=position_text(tick.cursor))


def restarted_if_restored(store: Store, last: tuple[int, int]) -> tuple[int, int]:
    """The cursor to walk from: ``last``, or the first row again when ``last`` comes from another
    Postgres server (the store was restored there: ``Inbox.cursor_from_elsewhere``), told to the
    operator. Walking again is idempotent; going on from ``last`` would skip every new event."""
    if not store.inbox.cursor_from_elsewhere(last):
        return last
    rows = store.inbox.restart_commit_order()
    store.escalations.raise_(
        "inbox_held",
        f"inbox_restarted:{position_text(last)}",
        subject="inbox_events",
        detail=f"the inbox sensor's cursor ({position_text(last)}) names a transaction this database server "
        f"has not reached: the store was restored into another server. The walk starts again from the "
        f"first event ({rows} re-ordered); events already processed are not processed again, but expect "
        "a burst of conversation runs that find nothing new",
    )
    return 0, 0


def held_reason(store: Store, last: tuple[int, int]) -> str | None:
    """Why stored events are not requested yet, if a transaction still running holds them back
    (Postgres reads the inbox in commit order); escalated once they have waited past HELD_GRACE."""
    held, oldest = store.inbox.events_held(last)
    if not held:
        return None
    reason = f"{held} stored event(s) wait for an older database transaction still running to end"
    if oldest is not None and store.now() - oldest > HELD_GRACE:
        store.escalations.raise_(
            "inbox_held",
            f"inbox_held:{position_text(last)}",
            subject="inbox_events",
            detail=f"{reason} (the oldest since {oldest:%Y-%m-%d %H:%M} UTC): the oldest transaction still "
            "running on the whole Postgres server holds them, in any database: look for a session idle in "
            "transaction (pg_stat_activity, every database) or a prepared transaction (pg_prepared_xacts) "
            "and end it; the events are stored and will be processed then",
        )
    return reason


@dg.sensor(job=prospect_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def follow_ups_due(context: dg.SensorEvaluationContext, gtm: GtmResource) -> dg.SensorResult | dg.SkipReason:
    """Prospects whose follow-up is due get the prospect pipeline, which drafts the follow-up."""
    after, legacy = row_cursor(context.cursor)
    if legacy:
        context.log.info("cursor from an older version: starting over from the first prospect due")
    entered = gtm.services.store.prospects.entered_state_after(
        State.FOLLOW_UP_DUE, after, MAX_EVENTS_PER_TICK
    )
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

"""The schedules and sensors that start work on their own: what each asks for, and when it asks nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg

from gtm_pipeline.config import load_settings
from gtm_pipeline.defs.audit.time_rules import hourly_time_rules
from gtm_pipeline.defs.discovery.schedule import daily_discovery
from gtm_pipeline.defs.outreach.conversation import follow_ups_due
from gtm_pipeline.defs.partitions import PROSPECTS
from gtm_pipeline.defs.resources import gtm_resource
from gtm_pipeline.domain.states import Event, State
from gtm_pipeline.pipeline.services import Services
from tests.helpers import run_all, send_first_touch


def test_discovery_and_the_time_rules_run_on_their_own_and_sending_does_not() -> None:
    assert (daily_discovery.cron_schedule, daily_discovery.default_status) == (
        "0 6 * * *",
        dg.DefaultScheduleStatus.RUNNING,
    )
    assert (hourly_time_rules.cron_schedule, hourly_time_rules.default_status) == (
        "7 * * * *",
        dg.DefaultScheduleStatus.RUNNING,
    )
    assert daily_discovery.job_name == "discovery_job" and hourly_time_rules.job_name == "time_rules_job"
    with dg.build_schedule_context(
        scheduled_execution_time=dt.datetime(2026, 11, 24, 6, tzinfo=dt.UTC)
    ) as context:
        (request,) = daily_discovery.evaluate_tick(context).run_requests or []
    assert request.job_name in (None, "discovery_job")


def test_a_follow_up_due_gets_one_pipeline_run_for_exactly_that_prospect(
    services: Services, gtm_home: Path
) -> None:
    pids = run_all(services)
    waiting = [p.id for p in services.store.prospects.find(states=[State.AWAITING_REVIEW])]
    due, other = waiting[0], waiting[1]
    sent_at = services.clock.now()
    send_first_touch(services, due, sent_at)
    decision = services.store.prospects.apply_event(
        due, Event.NO_REPLY_TIMEOUT, actor="rule:follow-up@1", rationale="no reply", now=sent_at
    )
    assert decision.allowed and decision.to_state is State.FOLLOW_UP_DUE
    services.close()
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(PROSPECTS, pids)
        resources = {"gtm": gtm_resource(load_settings())}
        with dg.build_sensor_context(instance=instance, resources=resources) as context:
            result = follow_ups_due(context)
        assert isinstance(result, dg.SensorResult)
        assert [r.partition_key for r in result.run_requests or []] == [due]
        assert other not in {r.partition_key for r in result.run_requests or []}
        with dg.build_sensor_context(instance=instance, cursor=result.cursor, resources=resources) as again:
            assert isinstance(follow_ups_due(again), dg.SkipReason)

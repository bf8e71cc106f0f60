"""Time rules through the real store and journal, and through the Dagster job."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg

from gtm_pipeline.config import load_settings
from gtm_pipeline.defs.audit.time_rules import time_rules_job
from gtm_pipeline.defs.resources import GtmResource, gtm_resource
from gtm_pipeline.domain.clock import FixedClock
from gtm_pipeline.domain.ids import prospect_id
from gtm_pipeline.domain.states import Event, State
from gtm_pipeline.pipeline.audit import replay_check
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.pipeline.timekeeping import apply, plan, sequence_policy
from tests.helpers import run_all, send_first_touch

PID = prospect_id("carepoint-clinics.example")
SENT_AT = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)


def _at(days: float) -> dt.datetime:
    return SENT_AT + dt.timedelta(minutes=2) + dt.timedelta(days=days)  # SENT is the 3rd minute


def test_follow_up_then_unresponsive_from_the_journal(services: Services) -> None:
    run_all(services)
    send_first_touch(services, PID, SENT_AT)
    policy = sequence_policy(services.catalog)
    assert (policy.follow_up_after_days, policy.max_follow_ups, policy.unresponsive_after_days) == (4, 2, 14)
    assert plan(services.store, policy, _at(4) - dt.timedelta(seconds=1), 365) == []
    (due,) = plan(services.store, policy, _at(4), 365)
    assert due.prospect_id == PID and due.due is not None and due.due.event is Event.NO_REPLY_TIMEOUT
    apply(services.store, [due], _at(4), pages=services.pages)
    assert services.store.prospects.get(PID).state is State.FOLLOW_UP_DUE  # type: ignore[union-attr]
    (later,) = plan(services.store, policy, _at(14), 365)
    assert later.due is not None and later.due.event is Event.UNRESPONSIVE_TIMEOUT
    apply(services.store, [later], _at(14), pages=services.pages)
    assert services.store.prospects.get(PID).state is State.UNRESPONSIVE  # type: ignore[union-attr]
    assert replay_check(services.store).ok


def test_not_now_returns_to_research_with_its_history(services: Services) -> None:
    run_all(services)
    send_first_touch(services, PID, SENT_AT)
    services.store.prospects.apply_event(
        PID,
        Event.NOT_NOW_REPLY,
        actor="classifier",
        rationale="reply says circle back in Q3",
        now=_at(1),
        details={"revisit_on": "2027-07-01", "signal": "circle back in Q3"},
    )
    policy = sequence_policy(services.catalog)
    assert plan(services.store, policy, dt.datetime(2027, 6, 30, tzinfo=dt.UTC), 9999) == []
    (due,) = plan(services.store, policy, dt.datetime(2027, 7, 1, tzinfo=dt.UTC), 9999)
    apply(services.store, [due], dt.datetime(2027, 7, 1, tzinfo=dt.UTC), pages=services.pages)
    assert services.store.prospects.get(PID).state is State.RESEARCHING  # type: ignore[union-attr]
    last = services.store.journal.entries(PID)[-1]
    assert last.payload["event"] == "revisit_due" and last.payload["signal"] == "circle back in Q3"
    assert last.actor == "rule:revisit@1"


def test_the_hourly_job_applies_rules_and_anchors_the_journal(services: Services, gtm_home: Path) -> None:
    run_all(services)
    send_first_touch(services, PID, SENT_AT)
    services.close()

    class Later(GtmResource):
        def setup_for_execution(self, context: dg.InitResourceContext) -> None:
            self.services.clock = FixedClock(_at(5))

    with dg.DagsterInstance.ephemeral() as instance:
        resources = {"gtm": gtm_resource(cls=Later)}
        result = time_rules_job.execute_in_process(instance=instance, resources=resources)
        assert result.success
        events = instance.fetch_materializations(dg.AssetKey("journal"), limit=10).records
        assert [e.asset_materialization.partition for e in events] == [PID]  # type: ignore[union-attr]
    check = Services.from_settings(load_settings())
    try:
        assert check.store.prospects.get(PID).state is State.FOLLOW_UP_DUE  # type: ignore[union-attr]
    finally:
        check.close()

"""A sensor that asks Dagster for a set of prospects runs exactly that set, never the partitions
between its first and last key, with a cursor that stays one integer."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from gtm_pipeline.config import load_settings
from gtm_pipeline.definitions import defs as lazy_defs
from gtm_pipeline.defs.outreach.conversation import inbox_events
from gtm_pipeline.defs.partitions import (
    PROSPECTS,
    RANGE_END_TAG,
    RANGE_START_TAG,
    contiguous_groups,
    exact_run_requests,
    position_cursor,
    position_text,
    report_blocked,
    row_cursor,
    tick_for_rows,
)
from gtm_pipeline.defs.research.sensors import new_prospects
from gtm_pipeline.defs.resources import gtm_resource, resend_resource
from gtm_pipeline.domain.ids import prospect_id
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.store import NewProspect
from tests.conftest import HYPOTHESIS

ORDER = [f"p_{i:04d}" for i in range(12)]


def _job(name: str) -> dg.JobDefinition:
    definitions = lazy_defs() if not isinstance(lazy_defs, dg.Definitions) else lazy_defs
    return definitions.resolve_job_def(name)


def test_wanted_keys_are_grouped_by_adjacency_never_bridging_a_gap() -> None:
    assert contiguous_groups(ORDER, ["p_0001", "p_0002", "p_0005", "p_0011"], 500) == [
        ["p_0001", "p_0002"],
        ["p_0005"],
        ["p_0011"],
    ]
    assert contiguous_groups(ORDER, ORDER[:5], 2) == [ORDER[0:2], ORDER[2:4], ORDER[4:5]]
    assert contiguous_groups(ORDER, ["p_9999"], 500) == []  # not a partition: not requested


def test_a_group_of_one_is_a_single_partition_run_and_a_longer_one_a_range_of_only_wanted_keys() -> None:
    runs = exact_run_requests(ORDER, ["p_0000", "p_0003", "p_0004"], "t")
    single, ranged = runs.requests
    assert single.partition_key == "p_0000" and RANGE_START_TAG not in single.tags
    assert (ranged.tags[RANGE_START_TAG], ranged.tags[RANGE_END_TAG]) == ("p_0003", "p_0004")
    assert runs.covered == {"p_0000", "p_0003", "p_0004"} and runs.waiting == set()
    capped = exact_run_requests(ORDER, ["p_0000", "p_0003", "p_0009"], "t", max_runs=2)
    assert len(capped.requests) == 2 and capped.waiting == {"p_0009"}


def test_a_tick_moves_its_cursor_only_over_rows_it_requested() -> None:
    rows = [(10, "p_0001"), (11, None), (12, "p_0007"), (13, "p_0002"), (14, "p_0010")]
    tick = tick_for_rows(rows, ORDER, "t", cursor=9, max_runs=2)
    # p_0001 and p_0002 are adjacent (one run) and p_0007 a second; p_0010 would be a third run
    assert tick.cursor == 13 and tick.prospects == 3 and tick.unmatched == 1
    assert len(tick.requests) == 2
    rest = tick_for_rows(rows[4:], ORDER, "t", cursor=tick.cursor, max_runs=2)
    assert rest.cursor == 14 and [r.partition_key for r in rest.requests] == ["p_0010"]
    # a prospect whose partition is not registered yet holds the cursor: nothing after it is skipped
    early = tick_for_rows([(20, "p_0003"), (21, "p_unregistered"), (22, "p_0004")], ORDER, "t", cursor=19)
    assert early.cursor == 20 and [r.partition_key for r in early.requests] == ["p_0003"]


def _two_at_the_ends(services: Services, instance: dg.DagsterInstance, total: int) -> tuple[str, str]:
    """Two sample companies registered as prospects, at the two ends of ``total`` partitions."""
    first, last = services.corpus.candidates()[0], services.corpus.candidates()[-1]
    ids = []
    for candidate in (first, last):
        pid = prospect_id(candidate.domain)
        services.store.prospects.add(
            NewProspect(pid, HYPOTHESIS, candidate.domain, candidate.name), actor="test", payload={}
        )
        ids.append(pid)
    fillers = [f"p_filler{i:05d}" for i in range(total - 2)]
    instance.add_dynamic_partitions(PROSPECTS, [ids[0], *fillers, ids[1]])
    return ids[0], ids[1]


def _materialized(instance: dg.DagsterInstance, asset: str) -> list[str]:
    records = instance.fetch_materializations(
        dg.AssetKey(asset), limit=10_000
    ).records  # ten thousand: more than a range run would ever leave
    return sorted(r.asset_materialization.partition for r in records)  # type: ignore[misc,union-attr]


@pytest.mark.parametrize("total", [10_000])
def test_two_new_prospects_at_the_ends_of_ten_thousand_partitions_run_alone(
    gtm_home: Path, total: int
) -> None:
    settings = load_settings()
    services = Services.from_settings(settings)
    with dg.DagsterInstance.ephemeral() as instance:
        a, b = _two_at_the_ends(services, instance, total)
        services.close()
        resources = {"gtm": gtm_resource(settings)}
        with dg.build_sensor_context(instance=instance, resources=resources) as context:
            result = new_prospects(context)
        assert isinstance(result, dg.SensorResult)
        assert [r.partition_key for r in result.run_requests or []] == [a, b]
        assert result.cursor is not None and result.cursor.isdigit()  # one integer, whatever the count
        for request in result.run_requests or []:
            run = _job("prospect_pipeline_job").execute_in_process(
                instance=instance,
                partition_key=request.partition_key,
                tags=dict(request.tags),
                resources=resources,
                raise_on_error=False,
            )
            assert run.success
            checks = run.get_asset_check_evaluations()
            assert len(checks) == 3 and {c.partition for c in checks} == {request.partition_key}
        for asset in ("raw_sources", "profile", "draft", "context_pack", "journal"):
            assert _materialized(instance, asset) == sorted([a, b]), asset
        with dg.build_sensor_context(instance=instance, cursor=result.cursor, resources=resources) as again:
            assert isinstance(new_prospects(again), dg.SkipReason)  # each prospect is requested once


def test_replies_for_two_prospects_far_apart_run_only_their_partitions(gtm_home: Path) -> None:
    settings = load_settings()
    services = Services.from_settings(settings)
    with dg.DagsterInstance.ephemeral() as instance:
        a, b = _two_at_the_ends(services, instance, 10_000)
        inbox = services.store.inbox
        for n, pid in enumerate((a, b, a)):
            inbox.add_event(
                event_key=f"msg_{n}",
                event_type="email.delivered",
                payload={"type": "email.delivered", "data": {"email_id": f"em_{n}"}},
                prospect_id=pid,
                touch_id=None,
                provider_email_id=f"em_{n}",
            )
        services.close()
        resources = {"gtm": gtm_resource(settings), "resend": resend_resource(settings)}
        with dg.build_sensor_context(instance=instance, resources=resources) as context:
            result = inbox_events(context)
        assert isinstance(result, dg.SensorResult) and position_cursor(result.cursor)[1] == 3
        assert sorted(r.partition_key for r in result.run_requests or []) == sorted([a, b])
        for request in result.run_requests or []:
            run = _job("conversation_job").execute_in_process(
                instance=instance,
                partition_key=request.partition_key,
                tags=dict(request.tags),
                resources=resources,
            )
            assert run.success
        assert _materialized(instance, "conversation") == sorted([a, b])


def test_the_same_prospect_due_again_later_is_a_new_run_and_the_same_rows_are_one_run() -> None:
    first = tick_for_rows([(5, "p_0003")], ORDER, "follow-up", cursor=0)
    again = tick_for_rows([(5, "p_0003")], ORDER, "follow-up", cursor=0)
    later = tick_for_rows([(9, "p_0003")], ORDER, "follow-up", cursor=5)  # its second follow-up
    keys = [t.requests[0].run_key for t in (first, again, later)]
    assert keys[0] == keys[1] and keys[2] != keys[0]


def test_a_cursor_from_the_older_list_format_starts_over_instead_of_failing() -> None:
    assert row_cursor(None) == (0, False) and row_cursor("42") == (42, False)
    assert row_cursor("p_0001,p_0002") == (0, True)


def test_a_commit_ordered_cursor_reads_back_and_an_id_cursor_keeps_its_place() -> None:
    """The inbox cursor on Postgres is (transaction id, row id); one written before it was (a plain
    row id) is (0, id): rows stored before migration 0017 have commit order 0, so none is walked twice."""
    assert position_text((0, 42)) == "42" and position_text((7301, 42)) == "7301.42"
    assert position_cursor(position_text((7301, 42))) == (7301, 42)
    assert position_cursor("42") == (0, 42) and position_cursor(None) == (0, 0)
    assert position_cursor("p_0001,p_0002") == (0, 0) and position_cursor("x.y") == (0, 0)


def test_a_prospect_without_a_partition_holds_its_sensor_and_is_escalated_once_it_lingers(
    gtm_home: Path,
) -> None:
    import datetime as dt

    from gtm_pipeline.domain.clock import ManualClock

    settings = load_settings()
    start = dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC)
    clock = ManualClock(start)
    services = Services.from_settings(settings, clock=clock)
    candidate = services.corpus.candidates()[0]
    pid = prospect_id(candidate.domain)
    services.store.prospects.add(
        NewProspect(pid, HYPOTHESIS, candidate.domain, candidate.name), actor="test", payload={}
    )
    tick = tick_for_rows([(1, pid)], ["p_other"], "research", cursor=0)
    assert tick.blocked_by == pid and tick.requests == [] and tick.cursor == 0
    report_blocked(services.store, "new_prospects", tick)
    assert services.store.escalations.open() == []  # discovery may be registering it right now
    clock.set(start + dt.timedelta(minutes=30))
    report_blocked(services.store, "new_prospects", tick)
    report_blocked(services.store, "new_prospects", tick)
    (escalation,) = services.store.escalations.open()
    assert escalation.kind == "missing_partition" and escalation.subject == pid
    services.close()

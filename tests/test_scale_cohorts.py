"""Cohort partitions, the plan for past 100,000 prospects (docs/scale.md): the key is opaque and
stable, its inverse comes from the store, runs over cohorts carry exactly the prospects asked for,
and the premises the plan rests on hold in Dagster itself (per-partition events, fragmentation)."""

import datetime as dt
import json
import re
from collections.abc import Iterator

import dagster as dg
import pytest

from gtm_pipeline.defs.cohorts import (
    COHORT_BACKFILL,
    COHORTS,
    CohortScope,
    ScopeError,
    cohort_partitions,
    cohort_run_requests,
    register_cohorts,
    run_prospects,
)
from gtm_pipeline.defs.partitions import PROSPECTS, exact_run_requests, prospect_partitions, run_request
from gtm_pipeline.domain.cohorts import (
    BUCKETS,
    InvalidCohortKeyError,
    bucket_of,
    cohort_key,
    cohort_of,
    hypothesis_hash,
    is_cohort_key,
    parse_cohort_key,
)
from gtm_pipeline.domain.ids import prospect_id
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.store import NewProspect
from gtm_pipeline.store.cohorts import cohort_keys, cohort_members, cohort_sizes, cohorts_for
from tests.conftest import TEST_START

SLUGS = ("healthcare-compliance-automation", "fintech-audit-readiness")
MONDAY = dt.datetime(2026, 11, 23, tzinfo=dt.UTC)  # ISO 2026-W48


def _add(services: Services, n: int, at: dt.datetime, slug: str = SLUGS[0]) -> str:
    services.clock.set(at)  # type: ignore[attr-defined]
    pid = prospect_id(f"company-{n}.example")
    services.store.prospects.add(
        NewProspect(
            pid, slug, f"company-{n}.example", f"Company {n}", "Ana Example", f"ana@company-{n}.example"
        ),
        actor="test",
        payload={},
    )
    return pid


@pytest.fixture
def spread(services: Services) -> Iterator[dict[str, str]]:
    """60 prospects over two hypotheses and three weeks (one across the ISO year's edge)."""
    made = {}
    weeks = [TEST_START, TEST_START + dt.timedelta(days=7), dt.datetime(2027, 1, 3, 23, 30, tzinfo=dt.UTC)]
    planned = sorted((weeks[n % 3] + dt.timedelta(minutes=n), n) for n in range(60))
    for at, n in planned:  # the manual clock only moves forward
        made[_add(services, n, at, SLUGS[n % 2])] = SLUGS[n % 2]
    yield made


# ------------------------------------------------------------------------------------ the key


def test_a_cohort_key_is_opaque_and_names_nothing_about_the_company() -> None:
    pid = prospect_id("acme-health.example")
    key = cohort_key(pid, SLUGS[0], MONDAY + dt.timedelta(hours=9))
    assert re.fullmatch(r"c_[0-9a-f]{10}_2026w48_[0-7]", key)
    assert SLUGS[0] not in key and "acme" not in key and pid[2:] not in key
    assert key == f"c_{hypothesis_hash(SLUGS[0])}_2026w48_{bucket_of(pid)}"
    assert parse_cohort_key(key) == cohort_of(pid, SLUGS[0], MONDAY)
    # Dagster's partition-key rules: none of its forbidden substrings, no separators it reserves.
    assert not any(bad in key for bad in ("...", ",", "[", "]", "|", "\n", " "))


def test_a_prospects_cohort_is_stable_whatever_the_timezone_and_time_of_week() -> None:
    pid = prospect_id("acme-health.example")
    base = cohort_key(pid, SLUGS[0], MONDAY)
    sunday_night = MONDAY + dt.timedelta(days=6, hours=23, minutes=59, seconds=59)
    assert cohort_key(pid, SLUGS[0], sunday_night) == base
    in_kolkata = sunday_night.astimezone(dt.timezone(dt.timedelta(hours=5, minutes=30)))  # Monday there
    assert cohort_key(pid, SLUGS[0], in_kolkata) == base  # the week is the UTC week
    assert cohort_key(pid, SLUGS[0], MONDAY + dt.timedelta(days=7)) != base
    assert cohort_key(pid, SLUGS[1], MONDAY) != base
    with pytest.raises(ValueError, match="timezone-aware"):
        cohort_key(pid, SLUGS[0], MONDAY.replace(tzinfo=None))


def test_the_iso_week_year_decides_across_new_year() -> None:
    pid = prospect_id("acme-health.example")
    assert "_2026w53_" in cohort_key(pid, SLUGS[0], dt.datetime(2027, 1, 3, tzinfo=dt.UTC))
    assert "_2027w01_" in cohort_key(pid, SLUGS[0], dt.datetime(2027, 1, 4, tzinfo=dt.UTC))
    assert "_2026w01_" in cohort_key(pid, SLUGS[0], dt.datetime(2025, 12, 29, tzinfo=dt.UTC))


def test_buckets_come_from_the_id_and_spread_evenly() -> None:
    ids = [prospect_id(f"company-{n}.example") for n in range(4000)]
    counts = [0] * BUCKETS
    for pid in ids:
        counts[bucket_of(pid)] += 1
    assert min(counts) > 0.8 * len(ids) / BUCKETS
    with pytest.raises(InvalidCohortKeyError):
        bucket_of("company-1.example")


@pytest.mark.parametrize(
    "bad",
    [
        "p_0123456789abcdef0123",
        "c_0123456789_2026w48_8",  # bucket out of range
        "c_0123456789_2025w53_0",  # 2025 has 52 ISO weeks
        "c_0123456789_2026w00_0",
        "c_0123456789_2026W48_0",
        "c_0123456789_2026w48_0 ",
        "c_healthcare_2026w48_0",
    ],
)
def test_anything_else_is_not_a_cohort_key(bad: str) -> None:
    assert not is_cohort_key(bad)
    with pytest.raises(InvalidCohortKeyError):
        parse_cohort_key(bad)


# ---------------------------------------------------------------------------- the inverse


def test_every_prospect_is_in_exactly_its_own_cohort(services: Services, spread: dict[str, str]) -> None:
    store = services.store
    keys = cohort_keys(store)
    assert keys == sorted(keys) and len(keys) == len(set(keys))
    assert sum(cohort_sizes(store).values()) == len(spread)
    seen: dict[str, str] = {}
    for key in keys:
        members = cohort_members(store, key)
        assert members, key
        for pid in members:
            assert pid not in seen, f"{pid} in {seen.get(pid)} and {key}"
            seen[pid] = key
            record = store.prospects.get(pid)
            assert record is not None
            assert cohort_key(pid, record.hypothesis_slug, record.discovered_at) == key
    assert set(seen) == set(spread)
    # Sunday night at the year's edge: before midnight ISO 2026's week 53, after it 2027's first week.
    assert any("_2026w53_" in k for k in keys) and any("_2027w01_" in k for k in keys)


def test_members_come_in_discovery_order_and_unknown_cohorts_are_empty(
    services: Services, spread: dict[str, str]
) -> None:
    store = services.store
    for key in cohort_keys(store):
        times = [store.prospects.get(pid).discovered_at for pid in cohort_members(store, key)]  # type: ignore[union-attr]
        assert times == sorted(times)
    nobody = cohort_key(prospect_id("x.example"), "no-such-hypothesis", MONDAY)
    assert cohort_members(store, nobody) == []
    elsewhere = cohort_key(prospect_id("x.example"), SLUGS[0], MONDAY - dt.timedelta(days=70))
    assert cohort_members(store, elsewhere) == []


def test_an_erased_prospect_keeps_its_cohort_and_the_key_holds_nothing_erasure_removes(
    services: Services, spread: dict[str, str]
) -> None:
    store = services.store
    pid = next(iter(spread))
    record = store.prospects.get(pid)
    assert record is not None
    key = cohort_key(pid, record.hypothesis_slug, record.discovered_at)
    store.privacy.tombstone(pid, reason="erasure request")
    erased = store.prospects.get(pid)
    assert erased is not None and erased.contact_email is None
    assert pid in cohort_members(store, key)
    assert cohort_keys(store) == sorted(cohort_sizes(store))
    for secret in (record.contact_email, record.contact_name, record.company_domain, record.company_name):
        assert secret and secret.lower() not in key.lower()


# ---------------------------------------------------------------------------- Dagster, for real


def _cohort_asset(handled: list[str]) -> dg.AssetsDefinition:
    @dg.asset(
        name="cohort_step",
        partitions_def=cohort_partitions,
        backfill_policy=COHORT_BACKFILL,
        required_resource_keys={"store"},
    )
    def cohort_step(context: dg.AssetExecutionContext, config: CohortScope) -> dg.MaterializeResult:
        prospects = run_prospects(context.resources.store, context.partition_keys, config)
        handled.extend(prospects)
        return dg.MaterializeResult(metadata={"prospects": len(prospects)})  # counts only, never names

    return cohort_step


def test_registering_cohorts_is_idempotent(services: Services, spread: dict[str, str]) -> None:
    keys = cohort_keys(services.store)
    with dg.DagsterInstance.ephemeral() as instance:
        assert register_cohorts(instance, keys[:3]) == 3
        assert register_cohorts(instance, keys) == len(keys) - 3
        assert register_cohorts(instance, keys + keys) == 0
        assert instance.get_dynamic_partitions(COHORTS) == keys[:3] + keys[3:]


def test_a_cohort_run_handles_its_members_or_exactly_the_ids_inside_it(
    services: Services, spread: dict[str, str]
) -> None:
    store = services.store
    keys = cohort_keys(store)
    handled: list[str] = []
    asset = _cohort_asset(handled)
    resources = {"store": dg.ResourceDefinition.hardcoded_resource(store)}
    with dg.DagsterInstance.ephemeral() as instance:
        register_cohorts(instance, keys)
        whole = dg.materialize([asset], instance=instance, partition_key=keys[0], resources=resources)
        assert whole.success and handled == cohort_members(store, keys[0])

        # A sensor's scattered prospects: one run per cohort, the ids inside, nobody else handled.
        wanted = [cohort_members(store, k)[0] for k in keys[:4]]
        requests = cohort_run_requests(store, wanted, "replies@1-9", ["cohort_step"])
        assert [r.partition_key for r in requests] == keys[:4]
        handled.clear()
        for request in requests:
            result = dg.materialize(
                [asset],
                instance=instance,
                partition_key=request.partition_key,
                run_config=request.run_config,
                resources=resources,
            )
            assert result.success
        assert sorted(handled) == sorted(wanted)

        outsider = cohort_members(store, keys[1])[0]
        refused = dg.materialize(
            [asset],
            instance=instance,
            partition_key=keys[0],
            run_config={"ops": {"cohort_step": {"config": {"prospects": [outsider]}}}},
            resources=resources,
            raise_on_error=False,
        )
        assert not refused.success
        failure = refused.get_step_failure_events()[0].event_specific_data.error  # type: ignore[union-attr]
        assert failure is not None and failure.cause is not None
        assert failure.cause.cls_name == ScopeError.__name__


def test_the_event_log_of_a_cohort_run_holds_no_personal_data(
    services: Services, spread: dict[str, str]
) -> None:
    store = services.store
    key = cohort_keys(store)[0]
    asset = _cohort_asset([])
    with dg.DagsterInstance.ephemeral() as instance:
        register_cohorts(instance, [key])
        result = dg.materialize(
            [asset],
            instance=instance,
            partition_key=key,
            resources={"store": dg.ResourceDefinition.hardcoded_resource(store)},
        )
        logged = json.dumps([str(e.dagster_event) + e.message for e in instance.all_logs(result.run_id)])
    assert key in logged
    for pid in cohort_members(store, key):
        record = store.prospects.get(pid)
        assert record is not None and record.contact_email and record.contact_name
        for secret in (record.contact_email, record.contact_name, record.company_domain, record.company_name):
            assert secret not in logged


# ---------------------------------------------------------------- the premises of the plan


def test_premise_a_ranged_run_writes_dagster_events_per_partition_a_cohort_run_per_cohort(
    services: Services,
) -> None:
    """Dagster plans and records each partition of a run: a run over 40 prospect partitions writes
    40 planned and 40 materialization events, one cohort of 40 prospects writes one of each."""
    ids = [_add(services, n, TEST_START + dt.timedelta(minutes=n)) for n in range(40)]
    groups = cohorts_for(services.store, ids)
    key, members = max(groups.items(), key=lambda kv: len(kv[1]))

    @dg.asset(name="per_prospect", partitions_def=prospect_partitions)
    def per_prospect(context: dg.AssetExecutionContext) -> None:
        assert len(context.partition_keys) == len(ids)

    kinds = (dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED, dg.DagsterEventType.ASSET_MATERIALIZATION)
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(PROSPECTS, ids)
        ranged = dg.materialize([per_prospect], instance=instance, tags=dict(run_request(ids, "t").tags))
        register_cohorts(instance, [key])
        cohort = dg.materialize(
            [_cohort_asset([])],
            instance=instance,
            partition_key=key,
            resources={"store": dg.ResourceDefinition.hardcoded_resource(services.store)},
        )
        for kind in kinds:
            assert len(instance.all_logs(ranged.run_id, of_type=kind)) == len(ids)
            assert len(instance.all_logs(cohort.run_id, of_type=kind)) == 1
    assert len(members) >= len(ids) / BUCKETS / 2  # one cohort holds a share of the week's prospects


def test_premise_a_scattered_selection_fragments_prospect_runs_but_not_cohort_runs(
    services: Services,
) -> None:
    """Every other prospect of a week wanted: exact runs over prospect partitions need one run per
    prospect (a range may never bridge a prospect not asked for); over cohorts, one run per cohort
    touched, each carrying exactly its wanted ids."""
    ordered = [_add(services, n, TEST_START + dt.timedelta(minutes=n)) for n in range(200)]
    wanted = ordered[::2]
    exact = exact_run_requests(ordered, wanted, "rescore", max_runs=10**6)
    assert len(exact.requests) == len(wanted)
    by_cohort = cohort_run_requests(services.store, wanted, "rescore", ["cohort_step"])
    assert len(by_cohort) == len(cohort_keys(services.store)) <= BUCKETS
    carried = [pid for r in by_cohort for pid in r.run_config["ops"]["cohort_step"]["config"]["prospects"]]
    assert sorted(carried) == sorted(wanted)


def test_premise_exact_run_requests_grows_linearly_with_the_partitions() -> None:
    """The per-tick planning work is one pass over the registered keys: doubling them doubles the
    keys visited (counted, not timed, so a busy machine cannot make this flaky)."""

    class Counting(list[str]):
        visited = 0

        def __iter__(self) -> Iterator[str]:
            for key in super().__iter__():
                Counting.visited += 1
                yield key

    visits = []
    for n in (10_000, 20_000):
        Counting.visited = 0
        keys = Counting(f"p_{i:020x}" for i in range(n))
        runs = exact_run_requests(keys, keys[-500:], "t")
        assert len(runs.requests) == 1 and len(runs.covered) == 500
        visits.append(Counting.visited)
    assert visits == [10_000, 20_000]


def test_a_prospect_the_store_does_not_hold_is_refused_not_left_out_of_the_runs(services: Services) -> None:
    known = _add(services, 0, TEST_START)
    with pytest.raises(KeyError, match="1 prospect id"):
        cohorts_for(services.store, [known, "p_00000000000000000000"])
    assert sum(len(m) for m in cohorts_for(services.store, [known]).values()) == 1

"""Benchmark: the pipeline's Dagster and store paths at 100,000+ prospects (issue 16, item 6).

Fills a store to ``--prospects`` prospects (the demo's real ones, with drafts in the review queue,
plus synthetic ones whose journals are real hash chains), then measures what grows with the number
of prospects while they are one Dagster dynamic partition each:

- registering the partitions with Dagster (``add_dynamic_partitions`` in batches), registering them
  again (``register_partitions``: idempotent, adds nothing) and reading them back, on the SQLite
  instance, and with ``--postgres`` on a throwaway PostgreSQL server (``dagster-postgres``);
- planning one backfill over all of them without calling a model: ``exact_run_requests`` over
  every key and over a scattered 10 % (a filtered re-score), one sensor tick's ``tick_for_rows``,
  and Dagster's own asset backfill of ``profile`` over every partition, planned and submitted by
  the backfill daemon's code in this process (runs are queued, never executed);
- for comparison, the same backfill planned over cohort partitions (``gtm_pipeline.defs.cohorts``:
  one partition per hypothesis, week and bucket, the prospects inside the run);
- the console's board, review queue and a prospect's page over HTTP;
- ``gtm replay --check`` over the whole store.

Prints figures; asserts nothing. A part that cannot run says so and why.

    python bench/scale.py --prospects 100000
    python bench/scale.py --prospects 300000 --postgres
    python bench/scale.py --prospects 300000 --only console   # the console's pages alone
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import logging
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa

warnings.filterwarnings("ignore", message=".*is currently in beta")  # backfill_policy, on purpose

REPO = Path(__file__).resolve().parent.parent
PG_PORT = int(os.environ.get("GTM_BENCH_PG_PORT", "55522"))
SLUGS = ("healthcare-compliance-automation", "fintech-audit-readiness")
# Synthetic prospects' paths through the transition table: (event, state after it).
PATHS = [("qualified", "qualified")] * 3 + [("disqualified", "not_a_fit")] * 6 + [(None, "researching")] * 1
EPOCH = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)  # synthetic discovery times spread over a year from here


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def _row(label: str, seconds: float, note: str = "") -> None:
    print(f"  {label:<52}{seconds:>9.2f} s   {note}")


# ---------------------------------------------------------------------------------------- the store


def _journal_rows(pid: str, since: dt.datetime, path: tuple[str | None, str]) -> list[dict[str, Any]]:
    """A real hash chain: discovered, research started, then the path's verdict (if any)."""
    from gtm_pipeline.domain.journal import GENESIS_HASH, entry_hash, payload_hash

    steps: list[tuple[str, dict[str, Any]]] = [
        ("discovered", {"to_state": "discovered", "hypothesis": "bench"}),
        ("transition", {"event": "research_started", "from_state": "discovered", "to_state": "researching"}),
    ]
    event, state = path
    if event is not None:
        steps.append(("transition", {"event": event, "from_state": "researching", "to_state": state}))
    rows, previous = [], GENESIS_HASH
    for seq, (kind, payload) in enumerate(steps, start=1):
        at = since + dt.timedelta(minutes=seq)
        digest = payload_hash(payload)
        link = entry_hash(
            subject=pid,
            seq=seq,
            kind=kind,
            actor="bench",
            payload_digest=digest,
            prev_hash=previous,
            created_at=at,
        )
        rows.append(
            {
                "entry_id": f"j_{pid[2:]}{seq:02d}",
                "subject": pid,
                "seq": seq,
                "kind": kind,
                "actor": "bench",
                "payload": payload,
                "payload_hash": digest,
                "prev_hash": previous,
                "entry_hash": link,
                "created_at": at,
            }
        )
        previous = link
    return rows


def fill(url: str, target: int) -> list[str]:
    """Add synthetic prospects until the store holds ``target``; returns every prospect id in
    discovery order (the order discovery registers partitions in)."""
    from gtm_pipeline.domain.ids import prospect_id
    from gtm_pipeline.store import schema as t

    engine = sa.create_engine(url)
    rng = random.Random(7)
    with engine.begin() as c:
        have = int(c.execute(sa.select(sa.func.count()).select_from(t.prospects)).scalar() or 0)
    for start in range(have, target, 10_000):
        prospects, journal = [], []
        for n in range(start, min(target, start + 10_000)):
            pid = prospect_id(f"company-{n}.example")
            since = EPOCH + dt.timedelta(minutes=n * 525_600 // max(target, 1))  # spread over a year
            path = rng.choice(PATHS)
            entries = _journal_rows(pid, since, path)
            prospects.append(
                {
                    "id": pid,
                    "hypothesis_slug": SLUGS[n % len(SLUGS)],
                    "company_domain": f"company-{n}.example",
                    "company_name": f"Company {n}",
                    "state": path[1],
                    "state_since": entries[-1]["created_at"],
                    "discovered_at": since,
                }
            )
            journal += entries
        with engine.begin() as c:
            c.execute(t.prospects.insert(), prospects)
            c.execute(t.journal.insert(), journal)
    with engine.connect() as c:
        ids = [
            str(r.id) for r in c.execute(sa.select(t.prospects.c.id).order_by(t.prospects.c.discovered_at))
        ]
    engine.dispose()
    return ids


# ------------------------------------------------------------------------------------ registering


def registering(instance: Any, ids: list[str], batch: int, label: str) -> None:
    """Partitions added in batches, then registered again (nothing new), then read back."""
    from gtm_pipeline.defs.partitions import PROSPECTS, register_partitions

    first = last = 0.0
    started = time.perf_counter()
    for i, at in enumerate(range(0, len(ids), batch)):
        spent, _ = _timed(lambda at=at: instance.add_dynamic_partitions(PROSPECTS, ids[at : at + batch]))  # type: ignore[misc]
        first = spent if i == 0 else first
        last = spent
    total = time.perf_counter() - started
    _row(
        f"{label}: add {len(ids):,} in batches of {batch:,}",
        total,
        f"first batch {first:.2f} s, last {last:.2f} s",
    )
    spent, added = _timed(lambda: register_partitions(instance, ids))
    _row(f"{label}: register_partitions again (adds {added})", spent, "reads every key, compares")
    spent, keys = _timed(lambda: instance.get_dynamic_partitions(PROSPECTS))
    _row(f"{label}: get_dynamic_partitions ({len(keys):,} keys)", spent, "what each sensor tick reads")
    spent, _ = _timed(lambda: instance.has_dynamic_partition(PROSPECTS, ids[-1]))
    _row(f"{label}: has_dynamic_partition (one key)", spent)


@contextlib.contextmanager
def postgres_server(port: int) -> Iterator[str]:
    """A throwaway PostgreSQL server (Debian's package) on loopback; yields its admin URL."""
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    if not bins:
        raise RuntimeError("no PostgreSQL binaries under /usr/lib/postgresql")
    pg = bins[-1]
    folder = Path(tempfile.mkdtemp(prefix="gtm-scale-pg-"))
    folder.chmod(0o755)
    as_pg: list[str] = []
    if os.getuid() == 0:  # Postgres refuses to run as root
        shutil.chown(folder, "postgres")
        as_pg = ["runuser", "-u", "postgres", "--"]
    data = folder / "data"
    subprocess.run(
        [*as_pg, str(pg / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=on"
    subprocess.run(
        [
            *as_pg,
            str(pg / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(folder / "log"),
            "-w",
            "-o",
            options,
            "start",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(
            [*as_pg, str(pg / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
            stdout=subprocess.DEVNULL,
            check=False,
        )
        shutil.rmtree(folder, ignore_errors=True)


def postgres_registering(ids: list[str], batch: int) -> None:
    import dagster as dg

    with postgres_server(PG_PORT) as server:
        admin = sa.create_engine(
            f"{server.replace('postgresql://', 'postgresql+psycopg://')}/postgres",
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as c:
            c.execute(sa.text("CREATE DATABASE dagster"))
        admin.dispose()
        home = Path(tempfile.mkdtemp(prefix="gtm-scale-pg-home-"))
        (home / "dagster.yaml").write_text(
            f"storage:\n  postgres:\n    postgres_url: {server}/dagster\ntelemetry:\n  enabled: false\n"
        )
        with dg.DagsterInstance.from_config(str(home)) as instance:
            registering(instance, ids, batch, "Postgres")
        shutil.rmtree(home, ignore_errors=True)


# --------------------------------------------------------------------------------------- planning


def planning(instance: Any, ids: list[str]) -> None:
    from gtm_pipeline.defs.partitions import PROSPECTS, exact_run_requests, tick_for_rows

    ordered = instance.get_dynamic_partitions(PROSPECTS)
    spent, runs = _timed(lambda: exact_run_requests(ordered, ordered, "rescore", max_runs=10**9))
    _row(f"exact_run_requests: every key -> {len(runs.requests):,} runs", spent)
    scattered = random.Random(3).sample(ordered, len(ordered) // 10)
    spent, runs = _timed(lambda: exact_run_requests(ordered, scattered, "rescore", max_runs=10**9))
    _row(
        f"exact_run_requests: scattered 10% -> {len(runs.requests):,} runs",
        spent,
        f"mean {len(scattered) / max(1, len(runs.requests)):.1f} prospects a run",
    )
    rows = [(n + 1, pid) for n, pid in enumerate(ordered[-500:])]
    spent, tick = _timed(lambda: tick_for_rows(rows, ordered, "research", cursor=0))
    _row(f"tick_for_rows: 500 new prospects -> {len(tick.requests)} run(s)", spent, "per sensor tick")


def dagster_backfill(
    instance: Any,
    label: str,
    asset: str,
    every: list[str],
    sample: list[str],
    prospects: tuple[int, int],
    per_run_partitions: int,
) -> None:
    """Dagster's own asset backfill of ``asset``: the ``PartitionBackfill`` the UI's "launch
    backfill" builds, over ``every`` partition (planned, not submitted), then over ``sample``
    (planned and submitted by the backfill daemon's own iteration, in this process, until every
    run is requested). Runs go to the queued run coordinator and never execute. ``prospects`` is
    (prospects in the sample, prospects in all): the submission cost is linear in the partitions
    submitted (one planned event each) and in the runs, so the whole backfill is extrapolated from
    the sample's cost per run (its runs are full ones) times the runs the policy makes of all."""
    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.test_utils import create_test_daemon_workspace_context
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget

    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(
            python_file=str(Path(__file__).resolve()),
            attribute="bench_definitions",
            working_directory=str(REPO),
        ),
        location_name="scale_bench",
    )
    with create_test_daemon_workspace_context(InProcessWorkspaceLoadTarget(origin), instance) as context:
        graph = context.create_request_context().asset_graph
        spent, _ = _timed(lambda: _backfill(instance, graph, asset, every))
        _row(f"{label}: backfill of all {len(every):,} partitions planned", spent, "PartitionBackfill")
        before = instance.get_runs_count()
        started = time.perf_counter()
        backfill = _backfill(instance, graph, asset, sample)
        instance.add_backfill(backfill)
        iterations = _submit(context, instance, backfill.backfill_id)
        submitted = time.perf_counter() - started
    runs = instance.get_runs_count() - before
    per_run = submitted / max(1, runs)
    _row(
        f"{label}: {len(sample):,} partitions ({prospects[0]:,} prospects) -> {runs:,} runs submitted",
        submitted,
        f"{iterations} daemon iteration(s), {per_run:.1f} s a run",
    )
    every_runs = -(-len(every) // per_run_partitions)
    _row(
        f"{label}: all {prospects[1]:,} prospects, {every_runs:,} runs (extrapolated)",
        per_run * every_runs,
        f"{1000 * per_run * every_runs / prospects[1]:.1f} ms a prospect",
    )


def _backfill(instance: Any, graph: Any, asset: str, partitions: list[str]) -> Any:
    import dagster as dg
    from dagster._core.execution.backfill import PartitionBackfill

    from gtm_pipeline.domain.clock import SystemClock

    now = SystemClock().now().timestamp()
    return PartitionBackfill.from_asset_partitions(
        backfill_id=f"scale{int(now * 1000) % 10**9}{len(partitions)}",
        asset_graph=graph,
        partition_names=partitions,
        asset_selection=[dg.AssetKey(asset)],
        backfill_timestamp=now,
        tags={},
        dynamic_partitions_store=instance,
        all_partitions=False,
        title=None,
        description=None,
        run_config=None,
    )


def _submit(context: Any, instance: Any, backfill_id: str) -> int:
    """Run the backfill daemon's iteration until the backfill has requested every run."""
    from dagster._core.execution.backfill import BulkActionStatus
    from dagster._daemon.backfill import execute_backfill_iteration

    quiet = logging.getLogger("scale_bench")
    quiet.setLevel(logging.ERROR)
    for iteration in range(1, 1_000):
        list(execute_backfill_iteration(context, quiet))
        current = instance.get_backfill(backfill_id)
        data = current.asset_backfill_data
        if current.status != BulkActionStatus.REQUESTED or (data is not None and _all_requested(data)):
            return iteration
    return 1_000


def _all_requested(data: Any) -> bool:
    """Every target partition has had its run requested (the daemon would now wait for them)."""
    return data.requested_subset.num_partitions_and_non_partitioned_assets >= (
        data.target_subset.num_partitions_and_non_partitioned_assets
    )


def bench_definitions() -> Any:
    """A code location with the pipeline's partitioning and backfill policy and no work in its
    assets: planning depends on partitions and policy only, and nothing here calls a model."""
    import dagster as dg

    from gtm_pipeline.defs.cohorts import COHORT_BACKFILL, cohort_partitions
    from gtm_pipeline.defs.partitions import PROSPECT_BACKFILL, prospect_partitions

    @dg.asset(name="profile", partitions_def=prospect_partitions, backfill_policy=PROSPECT_BACKFILL)
    def profile() -> None:
        """Stands for the prospect-partitioned ``profile`` asset."""

    @dg.asset(name="cohort_profile", partitions_def=cohort_partitions, backfill_policy=COHORT_BACKFILL)
    def cohort_profile() -> None:
        """Stands for ``profile`` partitioned by cohort, the prospects inside the run."""

    return dg.Definitions(assets=[profile, cohort_profile])


def cohorts(instance: Any, store: Any) -> dict[str, int]:
    """Every prospect's cohort key, from the store, registered as its own dynamic partitions."""
    from gtm_pipeline.defs.cohorts import COHORTS, register_cohorts
    from gtm_pipeline.store.cohorts import cohort_sizes

    spent, sizes = _timed(lambda: cohort_sizes(store))
    largest = max(sizes.values(), default=0)
    mean = sum(sizes.values()) / max(1, len(sizes))
    _row(f"cohort keys: {len(sizes):,} cohorts", spent, f"mean {mean:.0f} prospects, largest {largest}")
    spent, _ = _timed(lambda: instance.add_dynamic_partitions(COHORTS, list(sizes)))
    _row(f"cohorts: add {len(sizes):,} partitions", spent)
    spent, added = _timed(lambda: register_cohorts(instance, list(sizes)))
    _row(f"cohorts: register_cohorts again (adds {added})", spent)
    return sizes


# ---------------------------------------------------------------------------------------- console


def console(settings: Any, services: Any, real: str, synthetic: str, requests: int) -> None:
    import httpx

    from gtm_pipeline.app import create_app
    from gtm_pipeline.outreach.local_server import serving

    pages = {
        "board": "/",
        "board, filtered": "/?state=qualified&hypothesis=fintech-audit-readiness&age=30",
        "board, page 50": "/?page_no=50",
        "review queue": "/reviews",
        "prospect page (demo prospect)": f"/prospects/{real}",
        "prospect page (synthetic)": f"/prospects/{synthetic}",
    }
    with (
        serving(create_app(settings, services=services)) as base,
        httpx.Client(base_url=base, timeout=60) as client,
    ):
        client.post("/login", data={"password": "bench"})
        for name, path in pages.items():
            client.get(path)  # warm
            samples = []
            for _ in range(requests):
                started = time.perf_counter()
                response = client.get(path)
                samples.append(time.perf_counter() - started)
                if response.status_code != 200:
                    print(f"  {name}: HTTP {response.status_code}")
                    break
            samples.sort()
            p95 = samples[max(0, int(0.95 * len(samples)) - 1)]
            print(
                f"  {name:<52}{1000 * statistics.median(samples):>7.1f} ms median {1000 * p95:>7.1f} ms p95"
            )


def replay(env: dict[str, str]) -> None:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "gtm_pipeline.cli", "replay", "--check"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    spent = time.perf_counter() - started
    last = (done.stdout.strip().splitlines() or [done.stderr.strip()[-200:]])[-1]
    _row("gtm replay --check", spent, f"exit {done.returncode}: {last}")


# ------------------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prospects", type=int, default=100_000)
    parser.add_argument(
        "--batch", type=int, default=10_000, help="partitions per add_dynamic_partitions call"
    )
    parser.add_argument("--requests", type=int, default=10, help="requests per console page")
    parser.add_argument("--postgres", action="store_true", help="also register on a throwaway PostgreSQL")
    parser.add_argument(
        "--backfill-sample",
        type=int,
        default=1000,
        help="prospects whose backfill runs Dagster submits (the rest is extrapolated); 0 skips it",
    )
    parser.add_argument(
        "--only",
        choices=["console"],
        help="measure one part alone: 'console' fills the store and times the console's pages only",
    )
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # figures as they come
    home = Path(tempfile.mkdtemp(prefix="gtm-scale-"))
    os.environ.update({"GTM_HOME": str(home), "GTM_OPERATOR_PASSWORD": "bench", "GTM_OFFLINE": "on"})
    try:
        run(args, home)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def run(args: argparse.Namespace, home: Path) -> None:
    from gtm_pipeline.config import load_settings
    from gtm_pipeline.orchestrate import prepare_dagster_home
    from gtm_pipeline.pipeline.discover import discover
    from gtm_pipeline.pipeline.draft import build_context_pack, draft_first_touch
    from gtm_pipeline.pipeline.research import augment, fetch_sources
    from gtm_pipeline.pipeline.services import Services

    settings = load_settings()
    dagster_home = prepare_dagster_home(settings)
    setup = time.perf_counter()
    services = Services.from_settings(settings)
    for hypothesis in services.hypotheses.values():
        for pid in discover(services, hypothesis).prospect_ids:
            fetch_sources(services, pid)
            augment(services, pid)
            draft_first_touch(services, pid)
            build_context_pack(services, pid)
    real = services.store.prospects.find()[0].id
    ids = fill(settings.paths.database_url, args.prospects)
    print(
        f"scale benchmark: {len(ids):,} prospects "
        f"(store filled in {time.perf_counter() - setup:.1f} s, setup)"
    )

    if args.only == "console":
        print("Dagster's partitions and backfills, and gtm replay --check: not measured (--only console)")
    else:
        dagster_part(args, dagster_home, services, ids)
    print(f"console pages over HTTP ({args.requests} requests each, one client)")
    try:
        console(settings, services, real, ids[len(ids) // 2], args.requests)
    except Exception as exc:  # a figure not measured is printed with why, never hidden
        print(f"  console: not measured ({type(exc).__name__}: {exc})")
    services.close()
    if args.only != "console":
        print("audit")
        replay(dict(os.environ))


def dagster_part(args: argparse.Namespace, dagster_home: Path, services: Any, ids: list[str]) -> None:
    """Partitions registered, backfills planned and submitted (SQLite, and Postgres if asked)."""
    import dagster as dg

    from gtm_pipeline.defs.cohorts import COHORTS_PER_RUN
    from gtm_pipeline.defs.partitions import MAX_PARTITIONS_PER_RUN

    print("registering the prospect partitions (one dynamic partition per prospect)")
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        registering(instance, ids, args.batch, "SQLite")
        print("planning one backfill over every prospect (no model is called)")
        planning(instance, ids)
        sizes = cohorts(instance, services.store)
        if args.backfill_sample <= 0:
            print("  Dagster's backfill planning: skipped (--backfill-sample 0)")
        else:
            full = -(-args.backfill_sample // MAX_PARTITIONS_PER_RUN) * MAX_PARTITIONS_PER_RUN
            sample = ids[:full]  # full runs, as the policy makes of the whole
            dagster_backfill(
                instance, "prospects", "profile", ids, sample, (len(sample), len(ids)), MAX_PARTITIONS_PER_RUN
            )
            keys: list[str] = []
            covered = 0
            for key, size in sizes.items():  # the first cohorts, in registration order, full runs
                if covered >= args.backfill_sample and len(keys) % COHORTS_PER_RUN == 0:
                    break
                keys.append(key)
                covered += size
            dagster_backfill(
                instance, "cohorts", "cohort_profile", list(sizes), keys, (covered, len(ids)), COHORTS_PER_RUN
            )
    if args.postgres:
        try:
            postgres_registering(ids, args.batch)
        except (RuntimeError, subprocess.CalledProcessError, sa.exc.OperationalError) as exc:
            print(f"  Postgres: not measured ({exc})")


if __name__ == "__main__":
    main()

"""Benchmark: a backfill launched the way the Dagster UI launches one, run by the daemon.

Starts, on loopback, the rate-limited OpenAI-compatible twin (429 above ``--rate``), a
``dagster-webserver`` and a ``dagster-daemon`` on a fresh ``$GTM_HOME`` whose Dagster instance
gets the starter ``dagster.yaml`` as ``gtm ui`` installs it, with ``TUNED`` on top (``--starter``:
as is; ``--set KEY=JSON``: more). It seeds N prospects with raw sources (as ``bench/rescore.py``
does), registers their partitions, stops the sensors that would request their own runs for them,
then sends the UI's GraphQL ``launchPartitionBackfill`` for the ``profile`` asset over all its
partitions and polls the backfill until it is done.

The daemon is the one this project deploys, ``python -m gtm_pipeline.dagster_control daemon run``:
``dagster-daemon run`` with the backfill daemon iterating every 2 s instead of Dagster's fixed 30
(``--stock-daemon``: ``dagster-daemon run`` as Dagster ships it).

Prints wall time against the ideal N / rate, the wall running from the launch request until the last
result is durable: the last run's end, once every partition's materialization and contract check is
in the event log (the results are in the store before that). Then when the backfill was marked done,
which is the daemon's next iteration and changes nothing the user gets. Where the time went: the
backfill daemon's pick-up, and per run when it was created, queued, started, finished its calls,
its per-partition events and its contract check.
Then the runs and how many ran at once, 429s (journal routes and the twin's own count), the
providers that produced the profiles, the share from the configured one, and fallbacks.
Asserts nothing.

    python bench/backfill.py --prospects 2000 --latency 0.2 --rate 20
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rescore import (  # the same twin and prospects as the re-score benchmark
    rate_limited_twin,
    seed_prospects,
    use_twin,
)

LAUNCH = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
    ... on PartitionKeysNotFoundError { message }
    ... on UnauthorizedError { message }
  }
}
"""
STATUS = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { status numPartitions endTimestamp error { message } }
    ... on PythonError { message }
  }
}
"""
LOCATIONS = """
{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""
# Sensors that would request their own prospect runs for the seeded prospects: stopped, so that only
# the backfill measured here talks to the provider (in a real re-score they have nothing to do).
STOPPED_SENSORS = ("new_prospects", "follow_ups_due")
# This bench's instance settings on top of the starter ``dagster.yaml`` (``--starter``: none). None
# now: the starter's are the ones measured (eight runs, a pool slot each, runs submitted on four
# threads); ``--set`` tries others.
TUNED: list[str] = []
DONE = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prospects", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=16, help="prospects in flight per run")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="override a dagster.yaml key for this bench, e.g. concurrency.pools.default_limit=4",
    )
    parser.add_argument(
        "--run-config",
        type=json.loads,
        default=None,
        help="the backfill's run config (JSON), as the UI's dialog can send it, e.g. "
        '{"execution": {"config": {"in_process": {}}}}',
    )
    parser.add_argument("--keep", action="store_true", help="keep the bench's GTM_HOME (logs, instance)")
    parser.add_argument("--starter", action="store_true", help="the starter dagster.yaml as is (no TUNED)")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="a throwaway PostgreSQL server (Debian's package) for the Dagster instance and the store",
    )
    parser.add_argument(
        "--event-batch",
        type=int,
        default=0,
        metavar="N",
        help="DAGSTER_EVENT_BATCH_SIZE for every Dagster process: a run's per-partition events written "
        "N at a time (dagster-postgres writes a batch in one statement; SQLite one by one anyway)",
    )
    parser.add_argument(
        "--stock-daemon", action="store_true", help="dagster-daemon as Dagster ships it (30 s backfill tick)"
    )
    parser.add_argument("--timeout", type=float, default=1800.0, help="give up after this many seconds")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="gtm-backfill-"))
    if args.event_batch:
        os.environ["DAGSTER_EVENT_BATCH_SIZE"] = str(args.event_batch)
    with (
        rate_limited_twin(args.latency, args.rate) as (url, twin_counts),
        postgres(args) as storage,
    ):
        use_twin(home, url, args.rate, args.workers)
        if storage:
            os.environ["GTM_DATABASE_URL"] = storage["store"]
            args.set = [*args.set, "storage=" + json.dumps({"postgres": {"postgres_db": storage["dagster"]}})]
        figures = run(args, home)
        figures["journal"] = journal_figures(figures["ids"])  # while the store's server is up
    figures["twin"] = twin_counts
    # kept with the instance, so that a report that fails can be made again from it
    (home / "figures.json").write_text(json.dumps({**figures, "logs": str(figures["logs"])}, default=str))
    try:
        report(args, figures)
    finally:
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)


@contextmanager
def postgres(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    """With ``--postgres``: a throwaway server holding two databases, the store's (its URL) and the
    Dagster instance's (its ``postgres_db`` settings, as deploy/dagster.yaml reads them)."""
    if not args.postgres:
        yield {}
        return
    import sqlalchemy as sa
    from scale import postgres_server

    port = free_port()
    with postgres_server(port) as server:
        admin = sa.create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            for name in ("gtm_store", "dagster"):
                c.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        yield {
            "store": f"{server.replace('postgresql://', 'postgresql+psycopg://')}/gtm_store",
            "dagster": {
                "username": "postgres",
                "password": "",
                "hostname": "127.0.0.1",
                "db_name": "dagster",
                "port": port,
                "scheme": "postgresql+psycopg2",  # the driver dagster-postgres is written for
            },
        }


def instance_config(home: Path, overrides: list[str]) -> Path:
    """Install the starter ``dagster.yaml`` as ``gtm ui`` does, then apply this bench's overrides."""
    from gtm_pipeline.config import load_settings
    from gtm_pipeline.orchestrate import prepare_dagster_home

    dagster_home = prepare_dagster_home(load_settings())
    if overrides:
        path = dagster_home / "dagster.yaml"
        config = yaml.safe_load(path.read_text())
        for item in overrides:
            key, value = item.split("=", 1)
            *parents, last = key.split(".")
            node = config
            for part in parents:
                node = node.setdefault(part, {})
            node[last] = json.loads(value)
        path.write_text(yaml.safe_dump(config, sort_keys=False))
    return dagster_home


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def dagster_services(dagster_home: Path, port: int, log: Path, *, stock_daemon: bool) -> Iterator[None]:
    """Webserver and daemon over a workspace file naming the code location as ``gtm ui`` does."""
    from gtm_pipeline.dagster_control import DEFINITIONS_MODULE, LOCATION_NAME

    workspace = dagster_home / "workspace.yaml"
    workspace.write_text(
        "load_from:\n  - python_module:\n"
        f"      module_name: {DEFINITIONS_MODULE}\n      attribute: defs\n"
        f"      location_name: {LOCATION_NAME}\n      working_directory: {json.dumps(str(Path.cwd()))}\n"
    )
    bindir = Path(sys.executable).parent
    commands = {
        "webserver": [
            *(str(bindir / "dagster-webserver"), "-w", str(workspace)),
            *("-h", "127.0.0.1", "-p", str(port)),
        ],
        "daemon": (
            [str(bindir / "dagster-daemon"), "run", "-w", str(workspace)]
            if stock_daemon
            else [sys.executable, "-m", "gtm_pipeline.dagster_control", "daemon", "run", "-w", str(workspace)]
        ),
    }
    procs = []
    try:
        for name, command in commands.items():
            out = (log / f"{name}.log").open("wb")
            # Each in its own process group: stopping it also stops the code server it started.
            procs.append(subprocess.Popen(command, stdout=out, stderr=out, start_new_session=True))
        yield
    finally:
        for proc in procs:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def graphql(client: httpx.Client, query: str, **variables: Any) -> dict[str, Any]:
    reply = client.post("/graphql", json={"query": query, "variables": variables})
    reply.raise_for_status()
    body = reply.json()
    if body.get("errors"):
        raise RuntimeError(f"GraphQL errors: {body['errors']}")
    return body["data"]


def wait_for_location(client: httpx.Client, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            entries = graphql(client, LOCATIONS)["workspaceOrError"].get("locationEntries", [])
        except (httpx.HTTPError, RuntimeError):
            entries = []
        if entries and all(e["loadStatus"] == "LOADED" for e in entries):
            errors = [e for e in entries if e["locationOrLoadError"]["__typename"] == "PythonError"]
            if errors:
                raise RuntimeError(f"code location failed to load: {errors}")
            return
        time.sleep(0.5)
    raise TimeoutError("the webserver did not load the code location in time")


def run(args: argparse.Namespace, home: Path) -> dict[str, Any]:
    import dagster as dg

    from gtm_pipeline.dagster_control import set_sensor
    from gtm_pipeline.defs.partitions import register_partitions
    from gtm_pipeline.domain.clock import SystemClock

    seeding = time.monotonic()
    ids = seed_prospects(args.prospects)
    overrides = ([] if args.starter else TUNED) + args.set
    shown = [o if not o.startswith("storage=") else "storage=postgres" for o in overrides]
    print(f"instance: starter dagster.yaml with {shown or 'no overrides'}")
    print(f"store: {'postgres' if args.postgres else 'sqlite'}; DAGSTER_EVENT_BATCH_SIZE={args.event_batch}")
    dagster_home = instance_config(home, overrides)
    with dg.DagsterInstance.get() as instance:
        register_partitions(instance, ids)
        for sensor in STOPPED_SENSORS:
            set_sensor(instance, sensor, running=False)
    print(f"seeded and registered {len(ids)} prospects in {time.monotonic() - seeding:.1f}s (not measured)")

    port = free_port()
    log = home / "logs"
    log.mkdir()
    deadline = time.monotonic() + args.timeout
    with (
        dagster_services(dagster_home, port, log, stock_daemon=args.stock_daemon),
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client,
    ):
        wait_for_location(client, time.monotonic() + 180)
        # What the UI sends for "Materialize all partitions" of an asset: the asset, every partition.
        params: dict[str, Any] = {
            "assetSelection": [{"path": ["profile"]}],
            "allPartitions": True,
            "tags": [],
        }
        if args.run_config is not None:
            params["runConfigData"] = args.run_config
        launched_wall = SystemClock().now().timestamp()
        started = time.monotonic()
        result = graphql(client, LAUNCH, backfillParams=params)["launchPartitionBackfill"]
        if result["__typename"] != "LaunchBackfillSuccess":
            raise RuntimeError(f"launchPartitionBackfill: {result}")
        backfill_id = result["backfillId"]
        peak_started = 0
        with dg.DagsterInstance.get() as instance:
            while True:
                state = graphql(client, STATUS, id=backfill_id)["partitionBackfillOrError"]
                runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
                peak_started = max(peak_started, sum(r.status == dg.DagsterRunStatus.STARTED for r in runs))
                if state.get("status") in DONE or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            wall = time.monotonic() - started
            records = instance.get_run_records(filters=dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
            phases = {r.dagster_run.run_id: run_phases(instance, r.dagster_run.run_id) for r in records}
    return {
        "ids": ids,
        "wall": wall,
        "state": state,
        "launched": launched_wall,
        "runs": [
            {
                "id": r.dagster_run.run_id,
                "status": r.dagster_run.status.value,
                "created": r.create_timestamp.timestamp(),
                "start": r.start_time,
                "end": r.end_time,
                "tags": dict(r.dagster_run.tags),
                "phases": phases.get(r.dagster_run.run_id, {}),
            }
            for r in records
        ],
        "peak_started": peak_started,
        "logs": log,
    }


def run_phases(instance: Any, run_id: str) -> dict[str, float]:
    """When a run reached each phase (wall-clock seconds): where its time went."""
    import dagster as dg

    marks = {
        "enqueued": ("PIPELINE_ENQUEUED", None),
        "start": ("PIPELINE_START", None),
        "step": ("STEP_START", "profile"),
        "calls done": ("STEP_OUTPUT", "profile"),
        "events done": ("STEP_SUCCESS", "profile"),
        "check done": ("STEP_SUCCESS", "profile_profile_contract"),
        "end": ("PIPELINE_SUCCESS", None),
    }
    wanted = {dg.DagsterEventType(kind) for kind, _ in marks.values()}
    found: dict[str, float] = {}
    for entry in instance.all_logs(run_id, of_type=wanted):
        event = entry.dagster_event
        for name, (kind, step) in marks.items():
            if name not in found and event.event_type_value == kind and step in (None, event.step_key):
                found[name] = entry.timestamp
    return dict(sorted(found.items(), key=lambda kv: kv[1]))


def max_overlap(spans: list[tuple[float, float]]) -> int:
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    peak = current = 0
    for _, step in edges:
        current += step
        peak = max(peak, current)
    return peak


def journal_figures(ids: list[str]) -> dict[str, Any]:
    """429s, providers and fallbacks as the pipeline recorded them, for every prospect."""
    from gtm_pipeline.config import load_settings
    from gtm_pipeline.pipeline.services import Services

    services = Services.from_settings(load_settings())
    routes: Counter[str] = Counter()
    providers: Counter[str] = Counter()
    fallbacks = done = 0
    for pid in ids:
        results = [e for e in services.store.journal.entries(pid) if e.kind == "skill_result"]
        done += bool(results)
        for entry in results:
            routes.update(a["outcome"] for a in entry.payload["route"])
            providers[entry.payload["result"]["producer"]["provider"]] += 1
            fallbacks += bool(entry.payload.get("fallback"))
    services.close()
    return {"routes": routes, "providers": providers, "fallbacks": fallbacks, "done": done}


def row(label: str, value: str, note: str = "") -> None:
    print(f"{label:<32}{value:>10}   {note}".rstrip())


def report(args: argparse.Namespace, figures: dict[str, Any]) -> None:
    from gtm_pipeline.defs.pools import pool_for
    from gtm_pipeline.defs.steps import FALLBACK_TAG
    from gtm_pipeline.pipeline.research import AUGMENT_SKILL

    n, t0 = len(figures["ids"]), figures["launched"]
    ideal = n / args.rate
    runs = sorted(figures["runs"], key=lambda r: r["created"])
    spans = [(r["start"], r["end"]) for r in runs if r["start"] and r["end"]]
    first_created = min((r["created"] for r in runs), default=t0)
    first_start = min((s for s, _ in spans), default=first_created)
    last_end = max((e for _, e in spans), default=first_start)
    last_calls = max((r["phases"].get("calls done", last_end) for r in runs), default=last_end)
    journal = figures["journal"]
    configured = pool_for(AUGMENT_SKILL).removeprefix("llm_")
    produced = sum(journal["providers"].values())
    share = journal["providers"].get(configured, 0) / produced if produced else 0.0
    tagged = sum(int(r["tags"].get(FALLBACK_TAG, 0)) for r in runs)
    routes, twin_counts = journal["routes"], figures["twin"]

    print(
        f"backfill of {n} `profile` partitions via launchPartitionBackfill: {figures['state'].get('status')}"
    )
    row("wall (launch → last result)", f"{last_end - t0:.1f} s", f"ratio {(last_end - t0) / ideal:.2f} x")
    row(
        "launch → backfill marked done",
        f"{figures['wall']:.1f} s",
        f"ratio {figures['wall'] / ideal:.2f} x (the daemon's next iteration)",
    )
    row("ideal (N / rate)", f"{ideal:.1f} s", f"{args.rate:g} req/s, {args.latency * 1000:.0f} ms latency")
    tick = "30 s (Dagster's)" if args.stock_daemon else "2 s (gtm_pipeline.dagster_control)"
    row("  daemon pick-up (→ 1st run)", f"{first_created - t0:.1f} s", f"backfill daemon tick: {tick}")
    row(
        "  1st run created → started", f"{first_start - first_created:.1f} s", "planned events, queue, launch"
    )
    row(
        "  1st start → last end",
        f"{last_end - first_start:.1f} s",
        f"ratio {(last_end - first_start) / ideal:.2f} x",
    )
    row("  last calls → last end", f"{last_end - last_calls:.1f} s", "per-partition events, contract check")
    row("  last end → backfill done", f"{t0 + figures['wall'] - last_end:.1f} s", "next backfill daemon tick")
    print("  per run, seconds after launch:")
    for r in runs:
        phases = "  ".join(f"{k} {v - t0:6.1f}" for k, v in r["phases"].items())
        print(f"    {r['id'][:8]} {r['status']:<8} created {r['created'] - t0:6.1f}  {phases}")
    row("runs", str(len(runs)))
    row("max concurrent runs", str(max_overlap(spans)), f"polled: {figures['peak_started']} started at once")
    row(
        "calls ok / 429 (journal)",
        f"{routes['ok']} / {routes['rate_limit']}",
        f"all outcomes: {dict(routes)}",
    )
    row("twin requests / 429", f"{twin_counts.get('requests')} / {twin_counts.get('rate_limited')}")
    row("profiles produced", f"{journal['done']} / {n}")
    row("providers used", "", str(dict(journal["providers"])))
    row(f"share from `{configured}`", f"{100 * share:.1f} %")
    row("fallbacks", str(journal["fallbacks"]), f"runs tagged {FALLBACK_TAG}: {tagged}")
    row("logs", "", f"{figures['logs']}" + ("" if args.keep else " (removed; --keep keeps them)"))


if __name__ == "__main__":
    main()

"""Benchmark: re-score N prospects against the OpenAI-compatible twin, as a Dagster backfill would.

The twin answers after ``--latency`` seconds and returns 429 above ``--rate`` requests per
second; the bulk provider's client-side limiter is set to the same rate. The prospects'
``profile`` partitions are materialized the way ``BackfillPolicy.multi_run(500)`` runs them
(ranged runs of 500 partitions, prospects concurrent inside each run). Prints wall time
against the ideal N / rate, orchestration overhead per prospect, 429s seen, and the peak
memory of this process (the twin runs in its own process). Prints; asserts nothing.

    python bench/rescore.py --prospects 2000 --latency 0.2 --rate 20
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prospects", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="gtm-bench-"))
    with rate_limited_twin(args.latency, args.rate) as (url, _counts):
        use_twin(home, url, args.rate, args.workers)
        run(args, home)


@contextmanager
def rate_limited_twin(latency: float, rate: float) -> Iterator[tuple[str, dict[str, int]]]:
    """The OpenAI-compatible twin in its own process, answering after ``latency`` and 429 above
    ``rate``; its own request and 429 counts once it stops."""
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "gtm_pipeline.twins", "openai", "--latency", str(latency)),
            *("--rate", str(rate), "--burst", str(int(rate))),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    counts: dict[str, int] = {}
    try:
        yield proc.stdout.readline().strip().removeprefix("url="), counts
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=15)
        counts.update({k: int(v) for k, v in (p.split("=") for p in out.split() if "=" in p)})


def use_twin(home: Path, url: str, rate: float, workers: int) -> None:
    """This process (and what it starts) on a fresh home, the bulk family on the twin at its rate."""
    os.environ.update(
        GTM_HOME=str(home),
        GTM_BULK_API_KEY="bench-key",
        GTM_BULK_BASE_URL=url + "/v1",
        GTM_BULK_RPS=str(rate),
        GTM_WORKERS=str(workers),
        GTM_OFFLINE="on",
    )
    os.environ.pop("ANTHROPIC_API_KEY", None)


def seed_prospects(count: int, *, with_contacts: bool = False) -> list[str]:
    """``count`` prospects of the first hypothesis, each with the raw sources of a sample company
    (domains made unique), in the store under ``$GTM_HOME``; returns their ids in creation order.
    ``with_contacts`` records each company's contact as discovery does (an address at the unique
    domain), so a qualified prospect gets a first-touch draft, not only a context pack."""
    from gtm_pipeline.config import load_settings
    from gtm_pipeline.domain.ids import prospect_id
    from gtm_pipeline.pipeline.research import keep_source
    from gtm_pipeline.pipeline.services import Services
    from gtm_pipeline.store import NewProspect

    services = Services.from_settings(load_settings())
    # The corpus' deliberately broken page (its profile is dead-lettered, two calls each) is left
    # out: this measures re-scoring throughput; the dead-letter path is tested elsewhere.
    candidates = [c for c in services.corpus.candidates() if c.folder != "sparrow-health"]
    slug = next(iter(services.hypotheses))
    ids = []
    try:
        for i in range(count):
            candidate = candidates[i % len(candidates)]
            domain = f"{candidate.folder}-{i}.example"
            pid = prospect_id(domain)
            ids.append(pid)
            contact = candidate.contact if with_contacts else None
            services.store.prospects.add(
                NewProspect(
                    pid,
                    slug,
                    domain,
                    candidate.name,
                    contact_name=contact.name if contact else None,
                    contact_email=f"{contact.email.split('@')[0]}@{domain}" if contact else None,
                    contact_role=contact.role if contact else None,
                    contact_timezone=contact.timezone if contact else None,
                ),
                actor="bench",
                payload={},
            )
            for doc in services.corpus.fetch(candidate.domain):
                keep_source(services, pid, doc, {}, run_id=None)
    finally:
        services.close()
    return ids


def run(args: argparse.Namespace, home: Path) -> None:
    import dagster as dg

    from gtm_pipeline.config import load_settings
    from gtm_pipeline.defs.partitions import PROSPECT_BACKFILL, PROSPECTS, run_request
    from gtm_pipeline.defs.research.assets import profile
    from gtm_pipeline.defs.resources import gtm_resource
    from gtm_pipeline.pipeline.services import Services

    seeding = time.monotonic()
    ids = seed_prospects(args.prospects)
    print(f"seeded {args.prospects} prospects in {time.monotonic() - seeding:.1f}s (not measured)")

    batch = PROSPECT_BACKFILL.max_partitions_per_run or len(ids)  # as the backfill policy splits it
    quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(PROSPECTS, ids)
        started = time.monotonic()
        runs = 0
        for start in range(0, len(ids), batch):
            chunk = ids[start : start + batch]
            result = dg.materialize(
                [profile],
                instance=instance,
                resources={"gtm": gtm_resource()},
                run_config=quiet,
                tags=dict(run_request(chunk, "bench").tags),
            )
            assert result.success
            runs += 1
        wall = time.monotonic() - started

    services = Services.from_settings(load_settings())
    routes = [
        a["outcome"]
        for pid in ids
        for e in services.store.journal.entries(pid)
        if e.kind == "skill_result"
        for a in e.payload["route"]
    ]
    providers = {
        e.payload["result"]["producer"]["provider"]
        for pid in ids[:50]
        for e in services.store.journal.entries(pid)
        if e.kind == "skill_result"
    }
    services.close()
    ideal = args.prospects / args.rate
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"re-scored {args.prospects} prospects in {runs} Dagster runs, {args.workers} in flight per run")
    print(f"wall time           {wall:8.1f} s")
    print(f"ideal (N / rate)    {ideal:8.1f} s   ({args.rate:g} req/s, {args.latency * 1000:.0f} ms latency)")
    print(f"over ideal          {100 * (wall - ideal) / ideal:8.1f} %")
    print(f"overhead/prospect   {1000 * (wall - ideal) / args.prospects:8.1f} ms")
    calls = routes.count("ok") + routes.count("rate_limit")
    print(f"calls ok / 429      {routes.count('ok'):8d} / {routes.count('rate_limit')}")
    print(f"ideal for the calls {calls / args.rate:8.1f} s   (calls / rate)")
    print(f"providers used      {sorted(providers)}")
    print(f"peak memory         {peak_mb:8.0f} MB (this process; the twin runs in its own)")


if __name__ == "__main__":
    main()

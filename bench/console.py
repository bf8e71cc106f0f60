"""Benchmark: the console's pages with 100,000 prospects in the store.

Runs the demo pipeline (real drafts in the review queue), then adds synthetic prospects
with journal entries until the store holds ``--prospects``, serves the console over
loopback and times the board (unfiltered and filtered), the review queue and a prospect's
timeline as a logged-in operator sees them. Prints median and p95; asserts nothing.

    python bench/console.py --prospects 100000 --requests 40
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import tempfile
import time

import httpx
import sqlalchemy as sa

STATES = (
    ["not_a_fit"] * 40
    + ["awaiting_reply"] * 20
    + ["unresponsive"] * 15
    + ["replied"] * 5
    + [
        "qualified",
        "approved",
        "scheduled",
        "not_now",
        "do_not_contact",
        "unreachable",
        "conflict",
        "researching",
    ]
    * 2
    + ["meeting_booked"]
)


def _fill(url: str, target: int) -> None:
    from gtm_pipeline.store import schema as t

    engine = sa.create_engine(url)
    rng = random.Random(7)
    now = dt.datetime(2026, 11, 24, tzinfo=dt.UTC)
    with engine.begin() as c:
        have = int(c.execute(sa.select(sa.func.count()).select_from(t.prospects)).scalar() or 0)
    batch_size = 10_000
    for start in range(have, target, batch_size):
        prospects, journal = [], []
        for n in range(start, min(target, start + batch_size)):
            pid = f"p_bench{n:015d}"
            since = now - dt.timedelta(days=rng.randint(0, 200), minutes=rng.randint(0, 1440))
            state = rng.choice(STATES)
            prospects.append(
                {
                    "id": pid,
                    "hypothesis_slug": rng.choice(
                        ["healthcare-compliance-automation", "fintech-audit-readiness"]
                    ),
                    "company_domain": f"company-{n}.example",
                    "company_name": f"Company {n}",
                    "contact_email_hash": None,
                    "state": state,
                    "state_since": since,
                    "discovered_at": since - dt.timedelta(days=3),
                }
            )
            for seq, (kind, payload) in enumerate(
                [
                    ("discovered", {"to_state": "discovered"}),
                    ("transition", {"event": "research_started", "to_state": "researching"}),
                    ("transition", {"event": "qualified", "to_state": state}),
                ]
            ):
                journal.append(
                    {
                        "entry_id": f"j_b{n:012d}{seq}",
                        "subject": pid,
                        "seq": seq,
                        "kind": kind,
                        "actor": "bench",
                        "payload": payload,
                        "payload_hash": "0" * 64,
                        "prev_hash": "0" * 64,
                        "entry_hash": "0" * 64,
                        "created_at": since - dt.timedelta(days=3 - seq),
                    }
                )
        with engine.begin() as c:
            c.execute(t.prospects.insert(), prospects)
            c.execute(t.journal.insert(), journal)
    engine.dispose()


def _time(client: httpx.Client, path: str, n: int) -> list[float]:
    client.get(path)  # warm
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.get(path)
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200, (path, response.status_code)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prospects", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        os.environ.update({"GTM_HOME": home, "GTM_OPERATOR_PASSWORD": "bench"})
        from gtm_pipeline.app import create_app
        from gtm_pipeline.config import load_settings
        from gtm_pipeline.orchestrate import prepare_dagster_home
        from gtm_pipeline.outreach.local_server import serving
        from gtm_pipeline.pipeline.discover import discover
        from gtm_pipeline.pipeline.draft import build_context_pack, draft_first_touch
        from gtm_pipeline.pipeline.research import augment, fetch_sources
        from gtm_pipeline.pipeline.services import Services

        settings = load_settings()
        prepare_dagster_home(settings)
        services = Services.from_settings(settings)
        for hypothesis in services.hypotheses.values():
            for pid in discover(services, hypothesis).prospect_ids:
                fetch_sources(services, pid)
                augment(services, pid)
                draft_first_touch(services, pid)
                build_context_pack(services, pid)
        real = services.store.prospects.find()[0].id
        started = time.perf_counter()
        _fill(settings.paths.database_url, args.prospects)
        print(
            f"filled the store to {args.prospects} prospects in {time.perf_counter() - started:.1f}s (setup)"
        )
        with (
            serving(create_app(settings, services=services)) as base,
            httpx.Client(base_url=base, timeout=30) as client,
        ):
            client.post("/login", data={"password": "bench"})
            pages = {
                "board": "/",
                "board, filtered": "/?state=awaiting_reply&hypothesis=fintech-audit-readiness&age=30",
                "board, page 50": "/?page_no=50",
                "review queue": "/reviews",
                "timeline": f"/prospects/{real}",
                "timeline (synthetic)": "/prospects/p_bench000000000050000",
            }
            print(f"{'page':<24}{'median':>10}{'p95':>10}   ({args.requests} requests each, one client)")
            for name, path in pages.items():
                samples = sorted(_time(client, path, args.requests))
                p95 = samples[max(0, int(0.95 * len(samples)) - 1)]
                print(f"{name:<24}{1000 * statistics.median(samples):>8.1f}ms{1000 * p95:>8.1f}ms")
        services.close()


if __name__ == "__main__":
    main()

"""Benchmark: fetch 200 sites x 5 pages from the web twin at 50 ms latency, politely.

Every site has a robots.txt, so each host sees 6 requests, one at a time, with the per-host pause
between two. The politeness bound is the larger of the slowest host's serial time (6 x latency
+ 5 x pause) and the whole work spread over the workers (requests x latency / workers): no
polite crawler can finish sooner. Goal: wall time <= 1.2 x the bound. Prints figures; asserts
nothing.

    python bench/fetch.py --sites 200 --pages 5 --latency 0.05 --pause 1.0 --workers 32
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import itertools
import json
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def write_sites(root: Path, sites: int, pages: int) -> None:
    for s in range(sites):
        host = f"site-{s}.example"
        (root / host).mkdir(parents=True)
        (root / host / "robots.txt").write_text("User-agent: *\nAllow: /\n")
        for p in range(pages):
            title = f"{host} {p}"
            body = f"<html><head><title>{title}</title></head><body><p>Page {p} of {host}.</p></body></html>"
            (root / host / f"page-{p}.html").write_text(body)


@contextlib.contextmanager
def twin_process(root: Path, latency: float, log: Path) -> Iterator[tuple[str, list[str]]]:
    """The web twin in its own process: its HTTP work must not share this process' interpreter."""
    command = [
        sys.executable, "-m", "gtm_pipeline.twins", "web", "--root", str(root), "--latency", str(latency),
        "--log", str(log),
    ]  # fmt: skip
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        allow = child.stdout.readline().strip().split("=", 1)[1]
        routes = child.stdout.readline().strip().split("=", 1)[1].split(",")
        yield allow, routes
    finally:
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=30)


def run(args: argparse.Namespace, urls: list[str], policy: Any, state: Path) -> tuple[float, list[Any]]:
    from gtm_pipeline.domain.clock import FixedClock
    from gtm_pipeline.sources.crawl import fetch_all
    from gtm_pipeline.sources.fetcher import FetchConfig, Fetcher

    config = FetchConfig(contact="bench@northwind-advisory.example", pause_s=args.pause, global_rate=0)
    clock = FixedClock(dt.datetime(2026, 11, 23, tzinfo=dt.UTC))
    with Fetcher(
        config, policy, clock, state_dir=state, cache=False, max_connections=args.workers
    ) as fetcher:
        started = time.perf_counter()
        results = fetch_all(fetcher, urls, workers=args.workers)
        return time.perf_counter() - started, results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sites", type=int, default=200)
    parser.add_argument("--pages", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--pause", type=float, default=1.0)  # the product default (fetch.pause_s)
    parser.add_argument("--workers", type=int, default=32)
    args = parser.parse_args()
    from gtm_pipeline.sources.addresses import AddressPolicy
    from gtm_pipeline.sources.fetcher import FetchRefused

    urls = [f"https://site-{s}.example/page-{p}" for p in range(args.pages) for s in range(args.sites)]
    with tempfile.TemporaryDirectory() as tmp:
        root, log = Path(tmp) / "sites", Path(tmp) / "hits.jsonl"
        write_sites(root, args.sites, args.pages)
        with twin_process(root, args.latency, log) as (allow, routes):
            wall, results = run(args, urls, AddressPolicy.from_settings([allow], routes), Path(tmp) / "fetch")
        hits = [json.loads(line) for line in log.read_text().splitlines()]
    per_host = args.pages + 1
    serial = per_host * args.latency + (per_host - 1) * args.pause
    spread = len(hits) * args.latency / args.workers
    bound = max(serial, spread)
    overlaps = 0
    by_host: dict[str, list[tuple[float, float]]] = {}
    for hit in hits:
        by_host.setdefault(hit["host"], []).append((hit["started"], hit["ended"]))
    shortest_gap = float("inf")
    for spans in by_host.values():
        spans.sort()
        for (_s1, e1), (s2, _e2) in itertools.pairwise(spans):
            overlaps += int(s2 < e1)
            shortest_gap = min(shortest_gap, s2 - e1)
    refused = sum(isinstance(r, FetchRefused) for r in results)
    print(f"fetch benchmark: {args.sites} sites x {args.pages} pages, {args.latency * 1000:.0f} ms latency")
    print(f"  requests           {len(hits)} ({per_host} per host with robots.txt), {refused} refused")
    print(f"  workers            {args.workers}; pause per host {args.pause:.2f} s (twin in its own process)")
    print(f"  wall time          {wall:6.2f} s")
    print(f"  politeness bound   {bound:6.2f} s   (host serial {serial:.2f} s; spread {spread:.2f} s)")
    print(f"  ratio              {wall / bound:6.2f} x  (goal <= 1.2 x)")
    print(
        f"  per-host overlaps  {overlaps}; shortest gap between two requests to one host {shortest_gap:.3f} s"
    )


if __name__ == "__main__":
    main()

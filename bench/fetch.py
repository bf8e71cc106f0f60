"""Benchmark: the fetcher against the web twin (in its own process), in two parts.

1. **The crawl frontier** (``crawl.fetch_all``): 200 sites x 5 pages at 50 ms latency, the
   per-host pause on, the global rate and the HTTP cache off, so the figure is the scheduler's
   alone. Each host sees robots.txt + its pages, one at a time. The politeness bound is the larger
   of the slowest host's serial time (requests x latency + pauses) and the whole work spread over
   the workers; goal: wall time <= 1.2 x the bound.

2. **The site connector as research runs it** (``site.visit_site``), with the *default* fetch
   settings (per-host pause, global rate, HTTP cache): synthetic company sites with a robots.txt
   naming a sitemap index, about / careers / team pages, dated posts, two feeds, and a careers
   page linking to a Lever or an Ashby board (shared hosts, as on the web). Visited twice: the
   second pass is a later run (a new fetcher on the same state folder: robots.txt read again,
   pages revalidated against the HTTP cache). Printed per pass: pages kept per second, requests
   made, wall time against the ideal bound of the configured rates (the larger of requests /
   global rate and the busiest host's serial time), and cache hits (304s).

Prints figures; asserts nothing.

    python bench/fetch.py --sites 200 --pages 5 --latency 0.05 --visit-sites 10
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
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONTACT = "bench@northwind-advisory.example"
TODAY = dt.date(2026, 11, 23)


# -- the sites --------------------------------------------------------------------------------------


def write_sites(root: Path, sites: int, pages: int) -> None:
    """Part 1: bare sites of ``pages`` pages each."""
    for s in range(sites):
        host = f"site-{s}.example"
        (root / host).mkdir(parents=True)
        (root / host / "robots.txt").write_text("User-agent: *\nAllow: /\n")
        for p in range(pages):
            title = f"{host} {p}"
            body = f"<html><head><title>{title}</title></head><body><p>Page {p} of {host}.</p></body></html>"
            (root / host / f"page-{p}.html").write_text(body)


def _page(title: str, body: str, published: dt.date | None = None, head: str = "") -> str:
    if published is not None:
        data = {"@context": "https://schema.org", "@type": "BlogPosting", "datePublished": str(published)}
        head += f'<script type="application/ld+json">{json.dumps(data)}</script>'
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>{head}</head>'
        f"<body><main><h1>{title}</h1><p>{body}</p></main></body></html>"
    )


def _urlset(base: str, entries: list[tuple[str, dt.date]]) -> str:
    urls = "".join(f"<url><loc>{base}{path}</loc><lastmod>{day}</lastmod></url>" for path, day in entries)
    return f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'


def write_company(root: Path, index: int, posts: int) -> str:
    """Part 2: one company's site, and its postings on a shared Lever or Ashby host."""
    name = f"company-{index}"
    host, base = f"{name}.example", f"https://{name}.example"
    site = root / host
    for folder in ("sitemaps", "blog", "team", "feeds"):
        (site / folder).mkdir(parents=True)
    days = [TODAY - dt.timedelta(days=3 * p + 1) for p in range(posts)]
    (site / "robots.txt").write_text(f"User-agent: *\nAllow: /\nSitemap: {base}/sitemaps/index.xml\n")
    children = "".join(
        f"<sitemap><loc>{base}/sitemaps/{kind}.xml</loc></sitemap>" for kind in ("posts", "pages")
    )
    (site / "sitemaps" / "index.xml").write_text(
        f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{children}</sitemapindex>'
    )
    (site / "sitemaps" / "posts.xml").write_text(
        _urlset(base, [(f"/blog/post-{p}", day) for p, day in enumerate(days)])
    )
    old = TODAY - dt.timedelta(days=300)
    (site / "sitemaps" / "pages.xml").write_text(
        _urlset(base, [("/about", old), ("/careers", old), ("/team", old)])
    )
    feeds = (
        '<link rel="alternate" type="application/rss+xml" href="/feeds/news.xml">'
        '<link rel="alternate" type="application/atom+xml" href="/feeds/press.atom">'
    )
    (site / "index.html").write_text(_page(name, f"{name} runs clinics and writes about it.", head=feeds))
    (site / "about.html").write_text(_page(f"About {name}", f"{name} was founded in 2015 by clinicians."))
    board = _write_board(root, name, index)
    (site / "careers.html").write_text(_page("Careers", f'We are hiring. <a href="{board}">Open roles</a>'))
    (site / "team.html").write_text(_page("Leadership", "Dana Whitfield, Chief Executive Officer."))
    for p, day in enumerate(days):
        (site / "blog" / f"post-{p}.html").write_text(
            _page(f"{name} diary {p}", f"Entry {p} of the {name} diary.", day)
        )
    stamp = days[0].strftime("%a, %d %b %Y 09:00:00 GMT")
    (site / "feeds" / "news.xml").write_text(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>'
        f"<item><title>{name} opens a clinic</title><link>{base}/news/clinic</link>"
        f"<pubDate>{stamp}</pubDate></item></channel></rss>"
    )
    (site / "feeds" / "press.atom").write_text(
        f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>{name} press</title>'
        f'<entry><title>{name} certified</title><link href="{base}/press/certified"/>'
        f"<updated>{days[1]}T10:00:00Z</updated></entry></feed>"
    )
    return host


def _write_board(root: Path, name: str, index: int) -> str:
    """The company's postings on Lever (even companies) or Ashby (odd), as their public APIs give them."""
    created = dt.datetime.combine(TODAY - dt.timedelta(days=5), dt.time(9), tzinfo=dt.UTC)
    if index % 2 == 0:
        folder = root / "api.lever.co" / "v0" / "postings"
        postings: Any = [
            {
                "text": "Compliance Analyst",
                "categories": {"location": "Leeds", "team": "Risk", "commitment": "Full-time"},
                "createdAt": int(created.timestamp() * 1000),
                "hostedUrl": f"https://jobs.lever.co/{name}/1",
            }
        ]
        board = f"https://jobs.lever.co/{name}"
    else:
        folder = root / "api.ashbyhq.com" / "posting-api" / "job-board"
        postings = {
            "apiVersion": "1",
            "jobs": [
                {
                    "title": "Security Engineer",
                    "location": "Remote",
                    "isListed": True,
                    "publishedAt": created.isoformat(),
                    "jobUrl": f"https://jobs.ashbyhq.com/{name}/1",
                }
            ],
        }
        board = f"https://jobs.ashbyhq.com/{name}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(postings))
    return board


# -- the twin ---------------------------------------------------------------------------------------


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


def serial_time(requests: int, latency: float, pause: float) -> float:
    """One host's requests one after another, with the pause between two."""
    return requests * latency + max(requests - 1, 0) * pause


# -- part 1: the frontier ---------------------------------------------------------------------------


def frontier(args: argparse.Namespace, tmp: Path) -> None:
    from gtm_pipeline.domain.clock import FixedClock
    from gtm_pipeline.sources.addresses import AddressPolicy
    from gtm_pipeline.sources.crawl import fetch_all
    from gtm_pipeline.sources.fetcher import FetchConfig, Fetcher, FetchRefused

    urls = [f"https://site-{s}.example/page-{p}" for p in range(args.pages) for s in range(args.sites)]
    root, log = tmp / "sites", tmp / "hits.jsonl"
    write_sites(root, args.sites, args.pages)
    config = FetchConfig(contact=CONTACT, pause_s=args.pause, global_rate=0)
    clock = FixedClock(dt.datetime(2026, 11, 23, tzinfo=dt.UTC))
    with twin_process(root, args.latency, log) as (allow, routes):
        policy = AddressPolicy.from_settings([allow], routes)
        with Fetcher(
            config, policy, clock, state_dir=tmp / "fetch", cache=False, max_connections=args.workers
        ) as fetcher:
            started = time.perf_counter()
            results = fetch_all(fetcher, urls, workers=args.workers)
            wall = time.perf_counter() - started
    hits = [json.loads(line) for line in log.read_text().splitlines()]
    per_host = args.pages + 1
    serial = serial_time(per_host, args.latency, args.pause)
    spread = len(hits) * args.latency / args.workers
    bound = max(serial, spread)
    overlaps, shortest_gap = _overlaps(hits)
    refused = sum(isinstance(r, FetchRefused) for r in results)
    print(f"1. crawl frontier: {args.sites} sites x {args.pages} pages, {args.latency * 1000:.0f} ms latency")
    print("   (scheduler only: global rate and HTTP cache off)")
    print(f"  requests           {len(hits)} ({per_host} per host with robots.txt), {refused} refused")
    print(f"  workers            {args.workers}; pause per host {args.pause:.2f} s (twin in its own process)")
    print(f"  wall time          {wall:6.2f} s")
    print(f"  politeness bound   {bound:6.2f} s   (host serial {serial:.2f} s; spread {spread:.2f} s)")
    print(f"  ratio              {wall / bound:6.2f} x  (goal <= 1.2 x)")
    print(
        f"  per-host overlaps  {overlaps}; shortest gap between two requests to one host {shortest_gap:.3f} s"
    )


def _overlaps(hits: list[dict[str, Any]]) -> tuple[int, float]:
    """Requests to one host that overlapped (must be 0), and the shortest gap between two."""
    overlaps, shortest_gap = 0, float("inf")
    by_host: dict[str, list[tuple[float, float]]] = {}
    for hit in hits:
        by_host.setdefault(hit["host"], []).append((hit["started"], hit["ended"]))
    for spans in by_host.values():
        spans.sort()
        for (_s1, e1), (s2, _e2) in itertools.pairwise(spans):
            overlaps += int(s2 < e1)
            shortest_gap = min(shortest_gap, s2 - e1)
    return overlaps, shortest_gap


# -- part 2: the site connector ---------------------------------------------------------------------


@dataclass
class Pass:
    """One pass over every company: when it ran (twin clock: CLOCK_MONOTONIC) and what it kept."""

    name: str
    started: float
    ended: float
    documents: int
    from_cache: int
    refusals: Counter[str]


def visits(args: argparse.Namespace, tmp: Path) -> None:
    from gtm_pipeline.config.model import FetchSettings
    from gtm_pipeline.domain.clock import FixedClock
    from gtm_pipeline.sources.addresses import AddressPolicy
    from gtm_pipeline.sources.fetcher import FetchConfig, Fetcher

    defaults = FetchSettings()  # the product's defaults, not the environment's
    config = FetchConfig(
        contact=CONTACT,
        pause_s=defaults.pause_s,
        global_rate=defaults.global_rate,
        max_bytes=defaults.max_bytes,
        max_redirects=defaults.max_redirects,
        timeout_s=defaults.timeout_s,
    )
    root, log, state = tmp / "companies", tmp / "visits.jsonl", tmp / "visit-state"
    domains = [write_company(root, i, args.posts) for i in range(args.visit_sites)]
    clock = FixedClock(dt.datetime.combine(TODAY, dt.time(9), tzinfo=dt.UTC))
    passes = []
    with twin_process(root, args.latency, log) as (allow, routes):
        policy = AddressPolicy.from_settings([allow], routes)
        for name in ("first pass (cold cache)", "second pass (a later run)"):
            with Fetcher(config, policy, clock, state_dir=state) as fetcher:  # cache on: the default
                passes.append(_one_pass(name, fetcher, domains))
    hits = [json.loads(line) for line in log.read_text().splitlines()]
    print(
        f"2. site connector (visit_site), default settings: {len(domains)} companies, "
        f"{args.latency * 1000:.0f} ms latency"
    )
    print(
        f"   pause per host {config.pause_s:.2f} s, global rate {config.global_rate:g}/s, HTTP cache on; "
        "one thread per company, as parallel research steps would"
    )
    for run in passes:
        _report(run, [h for h in hits if run.started <= h["started"] <= run.ended], config, args.latency)
    overlaps, shortest = _overlaps(hits)
    print(f"  per-host overlaps  {overlaps}; shortest gap between two requests to one host {shortest:.3f} s")


def _one_pass(name: str, fetcher: Any, domains: list[str]) -> Pass:
    from gtm_pipeline.sources.site import visit_site

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(domains)) as pool:
        done = list(pool.map(lambda domain: visit_site(fetcher, domain, today=TODAY), domains))
    ended = time.monotonic()
    documents = sum(len(v.documents) for v in done)
    cached = sum(bool(p.get("from_cache")) for v in done for p in v.provenance.values())
    refusals = Counter(r["refused"] for v in done for r in v.refusals)
    return Pass(name, started, ended, documents, cached, refusals)


def _report(run: Pass, hits: list[dict[str, Any]], config: Any, latency: float) -> None:
    wall = run.ended - run.started
    per_host = Counter(h["host"] for h in hits)
    busiest, most = per_host.most_common(1)[0]
    by_rate = len(hits) / config.global_rate if config.global_rate else 0.0
    by_host = serial_time(most, latency, config.pause_s)
    bound = max(by_rate, by_host)
    statuses = Counter(h["status"] for h in hits)
    refused = ", ".join(f"{k} {n}" for k, n in sorted(run.refusals.items())) or "none"
    print(f"  {run.name}")
    print(f"    pages kept         {run.documents} in {wall:.2f} s = {run.documents / wall:.2f} pages/s")
    by_status = ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items()))
    print(f"    requests           {len(hits)} ({by_status})")
    print(
        f"    ideal bound        {bound:6.2f} s   (requests / rate {by_rate:.2f} s; busiest host "
        f"{busiest}: {most} requests serial {by_host:.2f} s)"
    )
    print(f"    ratio              {wall / bound:6.2f} x")
    revalidated = statuses.get(304, 0)
    print(f"    cache hits         {revalidated} answered 304; {run.from_cache} kept pages from the cache")
    print(f"    not kept           {refused}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sites", type=int, default=200, help="part 1: sites for the frontier (0: skip)")
    parser.add_argument("--pages", type=int, default=5, help="part 1: pages per site")
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--pause", type=float, default=1.0, help="part 1: per-host pause (fetch.pause_s)")
    parser.add_argument("--workers", type=int, default=32, help="part 1: frontier workers")
    parser.add_argument("--visit-sites", type=int, default=10, help="part 2: companies visited (0: skip)")
    parser.add_argument("--posts", type=int, default=8, help="part 2: dated posts per company")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.sites:
            frontier(args, Path(tmp))
        if args.visit_sites:
            visits(args, Path(tmp))


if __name__ == "__main__":
    main()

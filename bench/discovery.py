"""Benchmark: discovery over the twins of every source, on a synthetic world of about 1,000 search hits
across 300 companies (stale, undated, lying, excluded and third-party articles among them).

Asks Exa, Tavily, GDELT, Hacker News, EDGAR and the job boards of 60 companies through their real
clients, reads every hit's page through the fetcher (web twin, no per-host pause: it is our own
server), checks each one, then asks again inside the cache window. Prints time, calls, cache hits,
spend at list prices, candidates kept and hits rejected by reason. Each source keeps its own
published rate (GDELT one call per 5 s, EDGAR 10/s, the job boards 2/s), so wall time includes them.
Prints figures; asserts nothing.

    python bench/discovery.py --companies 300 --hits 1000
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--companies", type=int, default=300)
    parser.add_argument("--hits", type=int, default=1000)
    parser.add_argument("--boards", type=int, default=60, help="job boards watched")
    args = parser.parse_args()

    from gtm_pipeline.config import load_settings
    from gtm_pipeline.domain.clock import ManualClock, SystemClock
    from gtm_pipeline.domain.hypothesis import JobBoard
    from gtm_pipeline.pipeline.services import Services
    from gtm_pipeline.pipeline.signal_search import gather
    from gtm_pipeline.twins.discovery import EXCLUDED_HOSTS, DiscoveryTwin, synthetic_world
    from gtm_pipeline.twins.web import WebTwin

    now = SystemClock().now()
    world = synthetic_world(args.companies, args.hits, seed=14, today=now.date())
    boards: dict[tuple[str, str], str] = {}
    for article in world.articles:
        board = article.board()
        if board is not None and len(boards) < args.boards:
            boards.setdefault(board[:2], article.company_domain)
    home = Path(tempfile.mkdtemp(prefix="gtm-bench-discovery-"))
    with DiscoveryTwin(world) as apis, WebTwin(pages=world.pages()) as web:
        for name, value in apis.env().items():
            os.environ[name] = value
        os.environ["GTM_HOME"] = str(home)
        os.environ["GTM_FETCH_ENABLED"] = "1"
        os.environ["GTM_FETCH_PAUSE_S"] = "0"
        os.environ["GTM_FETCH_RATE"] = "1000"
        os.environ["GTM_DISCOVERY_DAILY_CAP_USD"] = "100"
        os.environ["GTM_FETCH_ALLOW"] = f"{apis.address},{web.address}"
        os.environ["GTM_FETCH_CONNECT_TO"] = ",".join([*apis.connect_to(), *web.connect_to()])
        services = Services.from_settings(load_settings(), clock=ManualClock(now))
        base = services.hypotheses["healthcare-compliance-automation"]
        section = base.discovery.model_copy(
            update={
                "search_queries": ["compliance"],
                "news_queries": ["compliance"],
                "filings_queries": ["compliance"],
                "job_boards": [
                    JobBoard(ats=a, token=t, domain=d)  # type: ignore[arg-type]
                    for (a, t), d in sorted(boards.items())
                ],
                "job_keywords": ["compliance", "grc"],
                "max_results_per_query": 100,
                "exclude_sources": list(EXCLUDED_HOSTS),
            }
        )
        hypothesis = base.model_copy(update={"discovery": section})
        started = time.perf_counter()
        first = gather(services, hypothesis)
        first_s = time.perf_counter() - started
        started = time.perf_counter()
        second = gather(services, hypothesis)
        second_s = time.perf_counter() - started
        services.close()
        api_calls, page_reads = sum(apis.calls.values()), len(web.hits())
    summary = first.summary()
    print(
        f"discovery benchmark: {len(world.articles)} articles across {args.companies} companies, "
        f"{len(boards)} job boards"
    )
    print(
        f"  first pass          {first_s:6.1f} s  ({first.hits} hits, {api_calls} API calls, "
        f"{page_reads} page requests)"
    )
    print(f"  calls by source     {summary['calls']}")
    print(f"  failures            {len(first.failures)} {[f['reason'] for f in first.failures]}")
    print(f"  spend (list prices) ${summary['spend_usd']:.4f}")
    print(f"  candidates kept     {summary['candidates']} companies, {summary['signals']} signals")
    print(f"  hits rejected       {sum(summary['rejected'].values())}: {summary['rejected']}")
    print(
        f"  second pass         {second_s:6.1f} s  cache hits {dict(second.cache_hits)}, "
        f"calls {dict(second.calls)}, spend ${second.spend_usd:.4f}"
    )
    print(f"  peak memory         {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()

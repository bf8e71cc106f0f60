"""Run a twin on its own: ``python -m gtm_pipeline.twins openai --latency 0.2 --rate 20``, or the
synthetic internet: ``python -m gtm_pipeline.twins web --root tests/fixtures/web`` (``--sample``: the
bundled sample companies' sites, as ``gtm demo`` serves them), or the discovery APIs over a synthetic
world: ``python -m gtm_pipeline.twins discovery --companies 300 --hits 1000 --seed 14``.

An LLM twin prints ``url=http://127.0.0.1:PORT`` on the first line; the web twin prints
``GTM_FETCH_ALLOW=…`` and ``GTM_FETCH_CONNECT_TO=…`` lines to export so ``gtm fetch`` reaches its
sites; the discovery twin prints those, the discovery base URLs and twin keys, with the world's pages
served beside it by a web twin. All serve until interrupted. Used
by the benchmark (so the twin's memory is not counted as the pipeline's) and by operators
rehearsing a run against simulated providers.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from pathlib import Path

from gtm_pipeline.config import STARTER
from gtm_pipeline.domain.clock import SystemClock
from gtm_pipeline.sources.corpus import SampleCorpus
from gtm_pipeline.twins.discovery import DiscoveryTwin, synthetic_world
from gtm_pipeline.twins.llm import AnthropicTwin, OpenAITwin
from gtm_pipeline.twins.sample_sites import sample_sites
from gtm_pipeline.twins.server import TwinSettings
from gtm_pipeline.twins.web import WebTwin


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gtm_pipeline.twins")
    parser.add_argument("api", choices=["openai", "anthropic", "web", "discovery"])
    parser.add_argument("--root", default=None, help="web: the folder of sites (one folder per host)")
    parser.add_argument(
        "--sample", action="store_true", help="web: also serve the bundled sample companies' sites"
    )
    parser.add_argument("--port", type=int, default=0, help="web: the port (default: any free one)")
    parser.add_argument("--log", default=None, help="web: write every request as a JSON line here on exit")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every response")
    parser.add_argument("--rate", type=float, default=0.0, help="requests per second before 429 (0: none)")
    parser.add_argument("--burst", type=int, default=1)
    parser.add_argument("--key", default=None, help="the only API key accepted (default: any)")
    parser.add_argument("--companies", type=int, default=300, help="discovery: companies in the world")
    parser.add_argument("--hits", type=int, default=1000, help="discovery: searchable articles")
    parser.add_argument("--seed", type=int, default=14, help="discovery: the world's random seed")
    args = parser.parse_args(argv)
    if args.api == "web":
        return _serve_web(args)
    if args.api == "discovery":
        return _serve_discovery(args)
    settings = TwinSettings(
        latency_s=args.latency, rate_per_s=args.rate, burst=args.burst, expected_key=args.key
    )
    twin = OpenAITwin(settings) if args.api == "openai" else AnthropicTwin(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with twin:
        print(f"url={twin.url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
        print(f"requests={twin.requests} rate_limited={twin.rate_limited}", flush=True)
    return 0


def _serve_web(args: argparse.Namespace) -> int:
    if not args.root and not args.sample:
        print("web: --root DIR (a folder with one folder per host) or --sample is required", file=sys.stderr)
        return 2
    pages = {}
    if args.sample:
        corpus = SampleCorpus(STARTER / "corpus")
        pages = sample_sites(corpus, today=SystemClock().now().date())
    root = Path(args.root) if args.root else None
    web = WebTwin(root, pages=pages, latency_s=args.latency, port=args.port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with web:
        print(f"GTM_FETCH_ALLOW={web.address}", flush=True)
        print(f"GTM_FETCH_CONNECT_TO={','.join(web.connect_to())}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
        print(f"requests={len(web.hits())}", flush=True)
    if args.log:
        with open(args.log, "w", encoding="utf-8") as handle:
            for hit in web.hits():
                record = {"host": hit.host, "path": hit.path, "started": hit.started, "ended": hit.ended}
                handle.write(json.dumps({**record, "status": hit.status}) + "\n")
    return 0


def _serve_discovery(args: argparse.Namespace) -> int:
    today = SystemClock().now().date()
    world = synthetic_world(args.companies, args.hits, args.seed, today)
    twin = DiscoveryTwin(world, port=args.port)
    web = WebTwin(pages=world.pages(), latency_s=args.latency)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with twin, web:
        env = twin.env()
        env["GTM_FETCH_ALLOW"] = f"{twin.address},{web.address}"
        env["GTM_FETCH_CONNECT_TO"] = ",".join([*twin.connect_to(), *web.connect_to()])
        for name, value in env.items():
            print(f"{name}={value}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
        print(f"requests={sum(twin.calls.values())} pages={len(web.hits())}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

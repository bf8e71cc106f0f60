"""Run an LLM twin on its own: ``python -m gtm_pipeline.twins openai --latency 0.2 --rate 20``.

Prints ``url=http://127.0.0.1:PORT`` on the first line, then serves until interrupted. Used
by the benchmark (so the twin's memory is not counted as the pipeline's) and by operators
rehearsing a run against simulated providers.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading

from gtm_pipeline.twins.llm import AnthropicTwin, OpenAITwin
from gtm_pipeline.twins.server import TwinSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gtm_pipeline.twins")
    parser.add_argument("api", choices=["openai", "anthropic"])
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every response")
    parser.add_argument("--rate", type=float, default=0.0, help="requests per second before 429 (0: none)")
    parser.add_argument("--burst", type=int, default=1)
    parser.add_argument("--key", default=None, help="the only API key accepted (default: any)")
    args = parser.parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: what a researched and drafted prospect costs, at list prices, through the LLM twins.

Seeds N prospects with the raw sources of the sample companies (as ``bench/rescore.py`` does), then
runs research (augment-profile, bulk family: the OpenAI-compatible twin) and drafting
(draft-first-touch and context-pack, polish family: the Anthropic twin) for each, the way a backfill
walks them, through the official SDKs and the normal runner. The twins report usage as the real APIs
do (Anthropic's cache-creation and cache-read tokens with its caching rules: the prefix up to the last
breakpoint, the model's minimum, a 5-minute TTL on the twin's clock; OpenAI's
``prompt_tokens_details.cached_tokens``). The twins' clock is moved ``--gap`` seconds per prospect,
so a slow backfill (a gap over 300 s) shows the cache expiring. Prices come from the configured
``models.yaml``. Prints cost per prospect, tokens by family and the cache-read share of the polish
prefix against the goals (≤ $0.02 per prospect, ≥ 80 % of the prefix read from cache); asserts
nothing (``--check`` exits 1 when a goal is missed).

    python bench/cost.py --prospects 200 --gap 2
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from gtm_pipeline.domain.contracts import Usage

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rescore import seed_prospects  # the re-score benchmark's prospects (here with contacts)

GOAL_COST_USD = 0.02
GOAL_CACHE_SHARE = 0.80


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prospects", type=int, default=200)
    parser.add_argument("--gap", type=float, default=2.0, help="simulated seconds between prospects")
    parser.add_argument("--polish-model", default="claude-sonnet-4-6", help="the polish family's model")
    parser.add_argument(
        "--min-cache-tokens",
        type=int,
        default=None,
        help="the polish twin's cache floor (default: the model's)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args(argv)
    figures = measure(
        args.prospects, gap_s=args.gap, polish_model=args.polish_model, min_cache_tokens=args.min_cache_tokens
    )
    print(json.dumps(figures, indent=2) if args.json else report(figures))
    return 0 if figures["meets_goals"] or not args.check else 1


def measure(
    prospects: int,
    *,
    gap_s: float = 2.0,
    home: Path | None = None,
    polish_model: str = "claude-sonnet-4-6",
    min_cache_tokens: int | None = None,
) -> dict[str, Any]:
    """Run research and drafting for ``prospects`` seeded prospects through the twins; the figures."""
    from gtm_pipeline.domain.clock import ManualClock
    from gtm_pipeline.twins.llm import AnthropicTwin, OpenAITwin
    from gtm_pipeline.twins.server import TwinSettings

    home = home or Path(tempfile.mkdtemp(prefix="gtm-cost-"))
    clock = ManualClock(dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC))  # the twins' clock only
    bulk_key, polish_key = f"bench-{secrets.token_hex(8)}", f"bench-{secrets.token_hex(8)}"
    with (
        OpenAITwin(TwinSettings(expected_key=bulk_key), clock=clock) as bulk,
        AnthropicTwin(
            TwinSettings(expected_key=polish_key), clock=clock, min_cache_tokens=min_cache_tokens
        ) as polish,
    ):
        saved = {k: os.environ.get(k) for k in _ENV}
        os.environ.update(
            GTM_HOME=str(home),
            GTM_BULK_API_KEY=bulk_key,
            GTM_BULK_BASE_URL=bulk.url + "/v1",
            ANTHROPIC_API_KEY=polish_key,
            GTM_POLISH_BASE_URL=polish.url,
            GTM_POLISH_MODEL=polish_model,
        )
        try:
            figures = _run(prospects, clock, gap_s)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        stats = polish.cache.stats
        figures["polish_cache"] = {
            "calls": stats.calls,
            "prefix_tokens": stats.prefix,
            "read": stats.read,
            "written": stats.written,
            "below_minimum": stats.below_minimum,
        }
        figures["cache_read_share"] = stats.read / stats.prefix if stats.prefix else 0.0
        figures["bulk_cached_tokens"] = bulk.cache.stats.read
    figures["gap_s"] = gap_s
    figures["meets_goals"] = (
        figures["cost_per_drafted_prospect"] <= GOAL_COST_USD
        and figures["cache_read_share"] >= GOAL_CACHE_SHARE
    )
    return figures


_ENV = (
    "GTM_HOME",
    "GTM_BULK_API_KEY",
    "GTM_BULK_BASE_URL",
    "ANTHROPIC_API_KEY",
    "GTM_POLISH_BASE_URL",
    "GTM_POLISH_MODEL",
)


def _run(prospects: int, clock: Any, gap_s: float) -> dict[str, Any]:
    from gtm_pipeline.config import load_settings
    from gtm_pipeline.pipeline.draft import build_context_pack, draft_first_touch
    from gtm_pipeline.pipeline.research import augment
    from gtm_pipeline.pipeline.services import Services
    from gtm_pipeline.providers.pricing import PriceTable

    ids = seed_prospects(prospects, with_contacts=True)
    services = Services.from_settings(load_settings())
    try:
        researched = 0
        for pid in ids:
            researched += augment(services, pid).status == "done"
            draft_first_touch(services, pid)
            build_context_pack(services, pid)
            clock.set(clock.now() + dt.timedelta(seconds=gap_s))
        artifacts = services.store.artifacts
        drafts = sum(bool(artifacts.of_kind(pid, "draft")) for pid in ids)
        packs = sum(bool(artifacts.of_kind(pid, "context_pack")) for pid in ids)
        # drafted: a first-touch draft, or a context pack for a manual touch where no address is known
        drafted = sum(
            bool(artifacts.of_kind(pid, "draft") or artifacts.of_kind(pid, "context_pack")) for pid in ids
        )
        rows = services.store.spend.rows()
        skills: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for pid in ids:
            for entry in services.store.journal.entries(pid):
                if entry.kind == "skill_result":
                    producer = entry.payload["result"]["producer"]
                    skill = skills[f"{producer['skill']} ({producer['provider']})"]
                    skill["calls"] += 1
                    skill["cost_usd"] += float(producer["cost_usd"])
                    skill["output_tokens"] += int(producer["usage"]["output_tokens"])
                    skill["input_tokens"] += int(producer["usage"]["input_tokens"])
        prices_file = str(load_settings().paths.prices)
    finally:
        services.close()
    families: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(float))
    for row in rows:
        family = families[f"{row['provider']} ({row['model']})"]
        for name in ("calls", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"):
            family[name] += int(row[name])
        family["cost_usd"] += float(row["cost_usd"])
    total = sum(f["cost_usd"] for f in families.values())
    # The same polish calls through Message Batches (drafts wait for the operator's review anyway):
    # the measured usage at the model's batch discount. A projection: a batch's cache hits are
    # best effort, so its cache-read share can be lower than the one measured here.
    prices = PriceTable.load(Path(prices_file))
    polish_batched = sum(
        prices.cost(str(row["model"]), _usage(row), batch=True) for row in rows if row["provider"] == "polish"
    )
    polish_direct = sum(float(row["cost_usd"]) for row in rows if row["provider"] == "polish")
    batched_total = total - polish_direct + polish_batched
    return {
        "prospects": prospects,
        "researched": researched,
        "drafted": drafted,
        "drafts": drafts,
        "context_packs": packs,
        "prices": prices_file,
        "families": {k: dict(v) for k, v in families.items()},
        "skills": {k: dict(v) for k, v in skills.items()},
        "cost_usd": round(total, 6),
        "cost_per_prospect": round(total / prospects, 6) if prospects else 0.0,
        "cost_per_drafted_prospect": round(total / drafted, 6) if drafted else float("inf"),
        "cost_per_drafted_prospect_polish_batched": round(batched_total / drafted, 6)
        if drafted
        else float("inf"),
    }


def _usage(row: dict[str, Any]) -> Usage:
    return Usage(
        input_tokens=int(row["input_tokens"]),
        output_tokens=int(row["output_tokens"]),
        cache_read_tokens=int(row["cache_read_tokens"]),
        cache_write_tokens=int(row["cache_write_tokens"]),
    )


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def report(f: dict[str, Any]) -> str:
    lines = [
        f"prospects {f['prospects']}: researched {f['researched']}, drafted {f['drafted']}"
        f" ({f['drafts']} first-touch drafts, {f['context_packs']} context packs)"
        f" (twins' clock +{f['gap_s']:g} s per prospect; prices: {f['prices']})",
        "",
        f"{'family (model)':46} {'calls':>6} {'input':>10} {'cache read':>11} {'cache write':>11}"
        f" {'output':>9} {'USD':>9}",
    ]
    for name, fam in sorted(f["families"].items()):
        lines.append(
            f"{name:46} {fam['calls']:6.0f} {fam['input_tokens']:10.0f} {fam['cache_read_tokens']:11.0f}"
            f" {fam['cache_write_tokens']:11.0f} {fam['output_tokens']:9.0f} {fam['cost_usd']:9.4f}"
        )
    lines += ["", f"{'skill (family)':46} {'calls':>6} {'uncached in':>11} {'output':>9} {'USD/call':>9}"]
    for name, sk in sorted(f["skills"].items()):
        lines.append(
            f"{name:46} {sk['calls']:6.0f} {sk['input_tokens'] / sk['calls']:11.0f}"
            f" {sk['output_tokens'] / sk['calls']:9.0f} {sk['cost_usd'] / sk['calls']:9.5f}"
        )
    cache = f["polish_cache"]
    lines += [
        "",
        f"total                              ${f['cost_usd']:.4f}",
        f"per prospect (all researched)      ${f['cost_per_prospect']:.5f}",
        f"per researched-and-drafted         ${f['cost_per_drafted_prospect']:.5f}"
        f"   goal <= ${GOAL_COST_USD:.2f}: {_verdict(f['cost_per_drafted_prospect'] <= GOAL_COST_USD)}",
        f"  with polish via Message Batches  ${f['cost_per_drafted_prospect_polish_batched']:.5f}"
        "   (projection: the measured usage at the batch discount)",
        f"polish prefix read from cache      {100 * f['cache_read_share']:.1f} %"
        f"   goal >= {100 * GOAL_CACHE_SHARE:.0f} %: {_verdict(f['cache_read_share'] >= GOAL_CACHE_SHARE)}",
        f"  polish calls {cache['calls']}, prefix tokens {cache['prefix_tokens']}, read {cache['read']},"
        f" written {cache['written']}, prefix below the model's minimum {cache['below_minimum']}x",
        f"bulk prompt tokens read from the host's prefix cache: {f['bulk_cached_tokens']}",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())

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

``--batches`` runs the same prospects a second time, in a fresh workspace, through the deferred path:
the writing groups opt in (``batch: true``; research stays direct), the runner queues their calls
(``SkillRunner(batch=True)``, what a run tagged ``gtm/batch=1`` does) and the batch queue submits
and collects them through the twins' batch routes (Message Batches; the OpenAI-compatible
``/v1/batches``), walking the prospects again after each collection as the ``skill_batches``
sensor's runs do, until nothing more is queued. Its cost per drafted prospect is measured from the
spend ledger, as the synchronous one is, and printed beside it.

    python bench/cost.py --prospects 200 --gap 2 --batches
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import shutil
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
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
    parser.add_argument(
        "--batches", action="store_true", help="also run the prospects through the batch APIs and measure it"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args(argv)
    figures = measure(
        args.prospects,
        gap_s=args.gap,
        polish_model=args.polish_model,
        min_cache_tokens=args.min_cache_tokens,
        batches=args.batches,
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
    batches: bool = False,
) -> dict[str, Any]:
    """Run research and drafting for ``prospects`` seeded prospects through the twins; the figures.
    ``batches``: the same prospects again through the batch APIs (``figures["batched"]``)."""
    home = home or Path(tempfile.mkdtemp(prefix="gtm-cost-"))
    with _twins(home, polish_model, min_cache_tokens) as (clock, bulk, polish):
        figures = _run(prospects, clock, gap_s)
        _cache_figures(figures, bulk, polish)
    figures["gap_s"] = gap_s
    figures["meets_goals"] = (
        figures["cost_per_drafted_prospect"] <= GOAL_COST_USD
        and figures["cache_read_share"] >= GOAL_CACHE_SHARE
    )
    if batches:
        batched_home = home.with_name(home.name + "-batched")
        skills = _batch_skills(batched_home / "skills")
        with _twins(batched_home, polish_model, min_cache_tokens, skills=skills) as (clock, bulk, polish):
            batched = _run_batched(prospects, clock, gap_s)
            _cache_figures(batched, bulk, polish)
            batched["batches"] = len(bulk.batches) + len(polish.batches)
        batched["meets_goal"] = batched["cost_per_drafted_prospect"] <= GOAL_COST_USD
        figures["batched"] = batched
    return figures


@contextmanager
def _twins(
    home: Path, polish_model: str, min_cache_tokens: int | None, *, skills: Path | None = None
) -> Iterator[tuple[Any, Any, Any]]:
    """The two LLM twins on one manual clock, and the environment that points a workspace at them
    (restored on exit)."""
    from gtm_pipeline.domain.clock import ManualClock
    from gtm_pipeline.twins.llm import AnthropicTwin, OpenAITwin
    from gtm_pipeline.twins.server import TwinSettings

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
        if skills is not None:
            os.environ["GTM_SKILLS_DIR"] = str(skills)
        else:
            os.environ.pop("GTM_SKILLS_DIR", None)
        try:
            yield clock, bulk, polish
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def _cache_figures(figures: dict[str, Any], bulk: Any, polish: Any) -> None:
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


# The groups that wait for a batch API: drafting (polish: Anthropic's Message Batches, half price; a
# draft waits for the operator's review anyway). Research stays direct, as in the starter skills: its
# family's default host (NVIDIA's hosted catalog) has no batch API and its model no batch discount.
BATCH_GROUPS = ("writing-copilot", "writing-dark-factory")


def _batch_skills(folder: Path) -> Path:
    """A copy of the starter skills with ``batch: true`` in :data:`BATCH_GROUPS` (where not yet)."""
    from gtm_pipeline.config import STARTER

    shutil.copytree(STARTER / "skills", folder)
    for group in BATCH_GROUPS:
        path = folder / group / "GROUP.md"
        text = path.read_text(encoding="utf-8")
        if "\nbatch:" not in text:
            path.write_text(text.replace("\nmode:", "\nbatch: true\nmode:", 1), encoding="utf-8")
    return folder


_ENV = (
    "GTM_HOME",
    "GTM_BULK_API_KEY",
    "GTM_BULK_BASE_URL",
    "ANTHROPIC_API_KEY",
    "GTM_POLISH_BASE_URL",
    "GTM_POLISH_MODEL",
    "GTM_SKILLS_DIR",
)


def _run(prospects: int, clock: Any, gap_s: float) -> dict[str, Any]:
    from gtm_pipeline.config import load_settings
    from gtm_pipeline.pipeline.draft import build_context_pack, draft_first_touch
    from gtm_pipeline.pipeline.research import augment
    from gtm_pipeline.pipeline.services import Services

    ids = seed_prospects(prospects, with_contacts=True)
    services = Services.from_settings(load_settings())
    try:
        researched = 0
        for pid in ids:
            researched += augment(services, pid).status == "done"
            draft_first_touch(services, pid)
            build_context_pack(services, pid)
            clock.set(clock.now() + dt.timedelta(seconds=gap_s))
        return _figures(services, ids, researched)
    finally:
        services.close()


MAX_BATCH_ROUNDS = 6  # queue the drafts, then use them: two walks (a failed item's retry waits a pass)


def _run_batched(prospects: int, clock: Any, gap_s: float) -> dict[str, Any]:
    """The deferred path: walk the prospects with the runner in batch mode (calls are queued), let
    the batch queue submit and collect until nothing is in flight, and walk again (what the
    ``skill_batches`` sensor's runs do) until a walk queues nothing new."""
    from gtm_pipeline.config import load_settings
    from gtm_pipeline.pipeline.batch_queue import BatchQueue
    from gtm_pipeline.pipeline.draft import build_context_pack, draft_first_touch
    from gtm_pipeline.pipeline.research import augment
    from gtm_pipeline.pipeline.services import Services
    from gtm_pipeline.store.skill_batches import IN_FLIGHT, SkillBatches

    ids = seed_prospects(prospects, with_contacts=True)
    services = Services.from_settings(load_settings())
    services.runner.batch = True
    queue, items = BatchQueue(services), SkillBatches(services.store)

    def in_flight() -> int:
        return sum(n for status, n in items.counts().items() if status in IN_FLIGHT)

    try:
        researched, rounds = 0, 0
        while rounds < MAX_BATCH_ROUNDS:
            rounds += 1
            for pid in ids:
                augment(services, pid)
                draft_first_touch(services, pid)
                build_context_pack(services, pid)
                clock.set(clock.now() + dt.timedelta(seconds=gap_s))
            # researched: a stored profile (a walk that reuses one reports it unchanged, not done)
            researched = sum(bool(services.store.artifacts.of_kind(pid, "profile")) for pid in ids)
            if not in_flight():
                break
            for _ in range(MAX_BATCH_ROUNDS):  # the twins end a batch at once: one pass submits,
                queue.run_pass()  # the next collects (and resubmits a failed item)
                if not in_flight():
                    break
        figures = _figures(services, ids, researched)
        figures["rounds"] = rounds
        figures["batch_items"] = items.counts()
        return figures
    finally:
        services.close()


def _figures(services: Any, ids: list[str], researched: int) -> dict[str, Any]:
    """What a walk cost, from the spend ledger and the journal (the same for both paths)."""
    from gtm_pipeline.config import load_settings
    from gtm_pipeline.providers.pricing import PriceTable

    prospects = len(ids)
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
    batched = f.get("batched")
    if batched is not None:
        lines += [
            f"per researched-and-drafted, batch APIs ${batched['cost_per_drafted_prospect']:.5f}"
            f"   goal <= ${GOAL_COST_USD:.2f}: {_verdict(batched['meets_goal'])}"
            f"   (measured: drafted {batched['drafted']} of {batched['prospects']},"
            f" {batched['batches']} batch(es), {batched['rounds']} rounds,"
            f" polish prefix read from cache {100 * batched['cache_read_share']:.1f} %)",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())

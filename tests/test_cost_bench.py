"""The cost benchmark (``bench/cost.py``) on a few prospects: it measures what it says it measures."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import REPO


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_cost", REPO / "bench" / "cost.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_cost"] = module
    spec.loader.exec_module(module)
    return module


def test_a_backfill_reads_the_polish_prefix_from_cache_and_prices_every_family(tmp_path: Path) -> None:
    bench = _bench()
    figures = bench.measure(12, gap_s=2.0, home=tmp_path / "home")
    assert figures["researched"] == 12 and 0 < figures["drafted"] < 12
    families = figures["families"]
    bulk = families["bulk (nvidia/nemotron-3-super-120b-a12b)"]
    polish = families["polish (claude-sonnet-4-6)"]
    assert bulk["calls"] == 12 and polish["calls"] == figures["drafts"] + figures["context_packs"]
    # two skills, two prefixes written once each; every later call reads its skill's prefix
    cache = figures["polish_cache"]
    assert cache["below_minimum"] == 0 and cache["read"] + cache["written"] == cache["prefix_tokens"]
    assert polish["cache_write_tokens"] == cache["written"] and polish["cache_read_tokens"] == cache["read"]
    assert figures["cache_read_share"] == pytest.approx(1 - 2 / polish["calls"], abs=0.05)
    # list prices from the starter models.yaml: Nemotron's cached tokens at its input price
    bulk_usd = (0.5 * (bulk["input_tokens"] + bulk["cache_read_tokens"]) + 1.5 * bulk["output_tokens"]) / 1e6
    polish_usd = (
        3.0 * polish["input_tokens"]
        + 0.3 * polish["cache_read_tokens"]
        + 3.75 * polish["cache_write_tokens"]
        + 15.0 * polish["output_tokens"]
    ) / 1e6
    assert bulk["cost_usd"] == pytest.approx(bulk_usd) and polish["cost_usd"] == pytest.approx(polish_usd)
    assert figures["cost_usd"] == pytest.approx(bulk_usd + polish_usd, abs=1e-5)
    assert figures["cost_per_drafted_prospect"] == pytest.approx(
        figures["cost_usd"] / figures["drafted"], rel=1e-3
    )
    assert "per researched-and-drafted" in bench.report(figures)


def test_a_backfill_slower_than_the_cache_ttl_reads_nothing_from_it(tmp_path: Path) -> None:
    figures = _bench().measure(6, gap_s=301.0, home=tmp_path / "home")
    assert figures["polish_cache"]["written"] > 0
    assert figures["cache_read_share"] < 0.5  # only a draft and its context pack of the same prospect share
    assert not figures["meets_goals"]


def test_the_same_prospects_through_the_batch_apis_cost_what_the_ledger_says_at_the_batch_price(
    tmp_path: Path,
) -> None:
    bench = _bench()
    figures = bench.measure(12, gap_s=2.0, home=tmp_path / "home", batches=True)
    batched = figures["batched"]
    # the same prospects, drafted alike: research direct, every drafting call in one Message Batch
    assert (batched["researched"], batched["drafted"]) == (12, figures["drafted"])
    assert batched["batches"] == 1 and batched["rounds"] == 2
    assert batched["batch_items"] == {"done": figures["drafts"] + figures["context_packs"]}
    polish = batched["families"]["polish (claude-sonnet-4-6)"]
    bulk = batched["families"]["bulk (nvidia/nemotron-3-super-120b-a12b)"]
    polish_list = (
        3.0 * polish["input_tokens"]
        + 0.3 * polish["cache_read_tokens"]
        + 3.75 * polish["cache_write_tokens"]
        + 15.0 * polish["output_tokens"]
    ) / 1e6
    # Message Batches at half price; research's direct calls at their list price
    assert polish["cost_usd"] == pytest.approx(polish_list / 2) and polish["cost_usd"] > 0
    bulk_list = (0.5 * (bulk["input_tokens"] + bulk["cache_read_tokens"]) + 1.5 * bulk["output_tokens"]) / 1e6
    assert bulk["cost_usd"] == pytest.approx(bulk_list)
    assert batched["cost_per_drafted_prospect"] == pytest.approx(
        batched["cost_usd"] / batched["drafted"], rel=1e-3
    )
    assert batched["cost_per_drafted_prospect"] < figures["cost_per_drafted_prospect"]
    text = bench.report(figures)
    assert "per researched-and-drafted         $" in text  # the synchronous line is still there
    assert f"batch APIs ${batched['cost_per_drafted_prospect']:.5f}" in text

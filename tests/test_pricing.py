"""Pricing a call's usage from ``models.yaml``: cache prices, their defaults and the batch discount."""

from __future__ import annotations

from pathlib import Path

import pytest

from gtm_pipeline.config import STARTER
from gtm_pipeline.domain.contracts import Usage
from gtm_pipeline.providers.pricing import Price, PriceTable

SONNET, NEMOTRON = "claude-sonnet-4-6", "nvidia/nemotron-3-super-120b-a12b"


def test_the_starter_table_prices_sonnet_cache_reads_at_a_tenth_and_batches_at_half() -> None:
    table = PriceTable.load(STARTER / "models.yaml")
    usage = Usage(input_tokens=1000, output_tokens=400, cache_read_tokens=2000, cache_write_tokens=0)
    # 1000 x 3 + 400 x 15 + 2000 x 0.30 = 9,600 dollars per million calls
    assert table.cost(SONNET, usage) == pytest.approx(0.0096)
    assert table.cost(SONNET, usage, batch=True) == pytest.approx(0.0048)
    writes = Usage(input_tokens=0, output_tokens=0, cache_write_tokens=2000)
    assert table.cost(SONNET, writes) == pytest.approx(2000 * 3.75 / 1e6)
    assert table.batch_discount(SONNET) == 0.5


def test_cached_tokens_of_a_host_without_a_published_cache_price_cost_the_input_price() -> None:
    table = PriceTable.load(STARTER / "models.yaml")
    cached = Usage(input_tokens=100, cache_read_tokens=900)
    plain = Usage(input_tokens=1000)
    assert table.cost(NEMOTRON, cached) == table.cost(NEMOTRON, plain) == pytest.approx(0.0005)
    assert table.batch_discount(NEMOTRON) == 1.0  # no batch API on the host: no discount
    assert table.cost(NEMOTRON, plain, batch=True) == table.cost(NEMOTRON, plain)


def test_an_unknown_model_is_free_and_not_known_and_a_bad_discount_is_refused(tmp_path: Path) -> None:
    table = PriceTable.load(STARTER / "models.yaml")
    assert not table.knows("mystery") and table.cost("mystery", Usage(input_tokens=10**6)) == 0.0
    bad = tmp_path / "models.yaml"
    bad.write_text("models:\n  m:\n    input: 1.0\n    batch_discount: 1.5\n")
    with pytest.raises(ValueError, match="batch_discount"):
        PriceTable.load(bad)
    assert Price(input=2.0).cache_read is None

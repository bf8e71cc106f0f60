"""Cost of a call from its token usage and the price table (``config/models.yaml``).

A model's cache prices default to its input price: a host whose cache discount is not in the table
is priced as if it gave none, so cached tokens a server reports never make a call look free. A
``batch_discount`` (a factor: 0.5 is half price) applies to calls made through a batch API; a model
without one has no batch discount.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gtm_pipeline.domain.contracts import Usage


@dataclass(frozen=True)
class Price:
    """US dollars per million tokens; ``batch_discount`` multiplies all of them for a batch call."""

    input: float = 0.0
    output: float = 0.0
    cache_read: float | None = None  # None: the input price
    cache_write: float | None = None  # None: the input price
    batch_discount: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 < self.batch_discount <= 1.0:
            raise ValueError(f"batch_discount must be in (0, 1], not {self.batch_discount}")

    @classmethod
    def of(cls, values: dict[str, Any] | None) -> Price:
        return cls(**(values or {}))


@dataclass(frozen=True)
class PriceTable:
    prices: dict[str, Price]

    @classmethod
    def load(cls, path: Path) -> PriceTable:
        if not path.is_file():
            return cls({})
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return cls({name: Price.of(values) for name, values in (data.get("models") or {}).items()})

    def knows(self, model: str) -> bool:
        return model in self.prices

    def batch_discount(self, model: str) -> float:
        """The factor a batch call of ``model`` costs (1.0: no batch discount known)."""
        return self.prices.get(model, Price()).batch_discount

    def cost(self, model: str, usage: Usage, *, batch: bool = False) -> float:
        """Dollars for one call's ``usage`` (``input_tokens`` is the uncached input only, as
        Anthropic reports it; the providers subtract OpenAI's cached tokens to match)."""
        price = self.prices.get(model, Price())
        cache_read = price.input if price.cache_read is None else price.cache_read
        cache_write = price.input if price.cache_write is None else price.cache_write
        total = (
            usage.input_tokens * price.input
            + usage.output_tokens * price.output
            + usage.cache_read_tokens * cache_read
            + usage.cache_write_tokens * cache_write
        )
        if batch:
            total *= price.batch_discount
        return round(total / 1_000_000, 8)

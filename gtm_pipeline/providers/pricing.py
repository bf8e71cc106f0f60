"""Cost of a call from its token usage and the price table (``config/models.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from gtm_pipeline.domain.contracts import Usage


@dataclass(frozen=True)
class Price:
    """US dollars per million tokens."""

    input: float = 0.0
    output: float = 0.0
    cache_read: float = 0.0
    cache_write: float = 0.0


@dataclass(frozen=True)
class PriceTable:
    prices: dict[str, Price]

    @classmethod
    def load(cls, path: Path) -> PriceTable:
        if not path.is_file():
            return cls({})
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return cls({name: Price(**(values or {})) for name, values in (data.get("models") or {}).items()})

    def knows(self, model: str) -> bool:
        return model in self.prices

    def cost(self, model: str, usage: Usage) -> float:
        price = self.prices.get(model, Price())
        total = (
            usage.input_tokens * price.input
            + usage.output_tokens * price.output
            + usage.cache_read_tokens * price.cache_read
            + usage.cache_write_tokens * price.cache_write
        )
        return round(total / 1_000_000, 8)

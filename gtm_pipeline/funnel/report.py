"""The funnel as one plain document: what ``gtm report --json`` prints and the console reads."""

from __future__ import annotations

from typing import Any

from gtm_pipeline.funnel.compute import STAGES, Dimension, funnel_data
from gtm_pipeline.funnel.stats import SMALL_SAMPLE
from gtm_pipeline.store import Store


def funnel_report(
    store: Store, by: Dimension = "hypothesis", *, hypothesis: str | None = None
) -> dict[str, Any]:
    """Every group's funnel (and all prospects' together): counts per stage, the rate from the
    stage before with its 95 % Wilson interval, and meetings and wins per prospect written to."""
    with funnel_data(store) as data:
        rows = data.rows(by, hypothesis=hypothesis)
        total = data.total(hypothesis=hypothesis)
    return {
        "by": by,
        "hypothesis": hypothesis,
        "stages": list(STAGES),
        "interval": "Wilson score, 95%",
        "small_sample_below": SMALL_SAMPLE,
        "groups": [row.as_dict() for row in rows],
        "total": total.as_dict(),
    }

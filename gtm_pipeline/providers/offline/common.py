"""What every offline method shares: evidence references, the recency window, a low confidence."""

from __future__ import annotations

import datetime as dt

from gtm_pipeline.domain.sources import SourceDoc
from gtm_pipeline.providers.offline.text import Sentence

MODEL = "extractive-v1"
MAX_CONFIDENCE = 0.55


def estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)


def refs(items: list[Sentence]) -> list[dict[str, str]]:
    """Evidence as raw output: the runner, not the provider, validates it (length, grounding)."""
    seen: set[tuple[str, str]] = set()
    refs: list[dict[str, str]] = []
    for item in items:
        key = (item.doc.source_id, item.text)
        if key not in seen:
            seen.add(key)
            refs.append({"source_id": item.doc.source_id, "quote": item.text})
    return refs[:20]


def in_window(doc: SourceDoc, as_of: dt.date, days: int) -> bool:
    return doc.published_on is not None and as_of - dt.timedelta(days=days) <= doc.published_on <= as_of


def confidence(evidence_count: int, base: float = 0.25) -> float:
    return round(min(MAX_CONFIDENCE, base + 0.05 * evidence_count), 2)

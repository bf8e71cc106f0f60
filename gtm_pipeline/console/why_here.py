"""Why a prospect is in the queue: the signals discovery found, each with its share of the score.

Discovery journals its verdict once (``discovered``: the score and every signal with its weight,
recency and contribution) and later signals on a known prospect as ``signal_observed``. The review
card and the prospect page read both, so a reviewer sees what made the company a candidate and what
it has done since, with dates and sources, without opening the journal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gtm_pipeline.store import JournalRecord, Store


@dataclass(frozen=True)
class SignalShown:
    """One signal as a reviewer reads it: kind, date, quote, source and its part of the score."""

    kind: str
    date: str
    quote: str
    url: str
    source: str
    weight: float | None
    recency: float | None
    contribution: float | None
    observed_later: bool = False

    @property
    def identity(self) -> tuple[str, str, str]:
        """What makes two journaled signals the same event: its kind, date and words."""
        return (self.kind, self.date, " ".join(self.quote.casefold().split()))

    @classmethod
    def from_payload(cls, payload: dict[str, Any], *, observed_later: bool = False) -> SignalShown:
        def number(key: str) -> float | None:
            value = payload.get(key)
            return float(value) if isinstance(value, int | float) else None

        return cls(
            kind=str(payload.get("kind", "")),
            date=str(payload.get("date", "")),
            quote=str(payload.get("quote", "")),
            url=str(payload.get("url", "")),
            source=str(payload.get("source", "")),
            weight=number("weight"),
            recency=number("recency"),
            contribution=number("contribution"),
            observed_later=observed_later,
        )


@dataclass(frozen=True)
class WhyHere:
    """The score discovery gave and the signals behind it (strongest first), then later ones."""

    score: float | None
    found_by: tuple[str, ...]
    signals: list[SignalShown] = field(default_factory=list)
    imported_from: str | None = None

    @property
    def later(self) -> list[SignalShown]:
        return [s for s in self.signals if s.observed_later]


def why_here(store: Store, prospect_id: str, entries: list[JournalRecord] | None = None) -> WhyHere | None:
    """The discovery verdict of a prospect, or None when nothing was journaled (an old store)."""
    journal = entries if entries is not None else store.journal.entries(prospect_id)
    found = next((e for e in journal if e.kind == "discovered"), None)
    if found is None:
        return None
    payload = found.payload
    signals = sorted(
        (SignalShown.from_payload(s) for s in payload.get("signals", []) if isinstance(s, dict)),
        key=lambda s: (-(s.contribution or 0.0), s.date),
    )
    # a signal seen again later (a re-run of discovery, another source quoting the same sentence)
    # is shown once: the first time it was journaled
    seen = {s.identity for s in signals}
    later = []
    for e in journal:
        if e.kind != "signal_observed":
            continue
        shown = SignalShown.from_payload(e.payload, observed_later=True)
        if shown.identity not in seen:
            seen.add(shown.identity)
            later.append(shown)
    score = payload.get("score")
    imported = payload.get("origin") == "import" and payload.get("file")
    return WhyHere(
        score=float(score) if isinstance(score, int | float) else None,
        found_by=tuple(str(s) for s in payload.get("sources", []) or ()),
        signals=signals + sorted(later, key=lambda s: s.date, reverse=True),
        imported_from=str(payload["file"]) if imported else None,
    )

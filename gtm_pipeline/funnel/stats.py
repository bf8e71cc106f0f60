"""Rates with their uncertainty (pure): a share, its Wilson score interval and, for a small
sample, a plain warning.

A funnel's later stages hold few prospects (a handful of meetings, one or two deals), and a rate
of 1 in 3 is not "33 %": the interval says how far the truth may lie from it. Wilson's interval
is used rather than the textbook ``p ± z·sqrt(p(1-p)/n)`` because it stays inside [0, 1] and is
still honest at 0 of n and n of n, which is where small funnels live.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

Z_95 = 1.959963984540054  # the standard normal's 97.5th percentile: a two-sided 95 % interval
SMALL_SAMPLE = 30  # below this many prospects a rate is a hint, and the report says so in words


def wilson(hits: int, n: int, z: float = Z_95) -> tuple[float, float] | None:
    """The Wilson score interval of ``hits`` successes in ``n`` trials (None when n is 0)."""
    if n <= 0:
        return None
    if not 0 <= hits <= n:
        raise ValueError(f"{hits} successes out of {n} trials")
    p = hits / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Rate:
    """``hits`` of ``n``: the share, its 95 % interval, and whether the sample is too small to trust."""

    hits: int
    n: int

    @property
    def value(self) -> float | None:
        return self.hits / self.n if self.n else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson(self.hits, self.n)

    @property
    def small_sample(self) -> bool:
        return self.n < SMALL_SAMPLE

    @property
    def note(self) -> str | None:
        """The warning a person reads beside a rate from too few prospects (None when n is enough)."""
        if self.n == 0:
            return "no sample yet: nobody reached the stage before"
        if self.small_sample:
            people = "prospect" if self.n == 1 else "prospects"
            return (
                f"small sample: only {self.n} {people} (fewer than {SMALL_SAMPLE}), "
                "so the interval is wide; read the rate as a hint, not a measure"
            )
        return None

    @property
    def words(self) -> str:
        """``"12 of 40 (30%, 95% CI 18%-45%)"``, with the small-sample warning when it applies."""
        if self.n == 0:
            return f"0 of 0 ({self.note})"
        low, high = self.interval or (0.0, 0.0)
        text = f"{self.hits} of {self.n} ({_pct(self.value or 0.0)}, 95% CI {_pct(low)}-{_pct(high)})"
        return f"{text}; {self.note}" if self.note else text

    def as_dict(self) -> dict[str, Any]:
        interval = self.interval
        return {
            "hits": self.hits,
            "n": self.n,
            "rate": None if self.value is None else round(self.value, 4),
            "ci95": None if interval is None else [round(interval[0], 4), round(interval[1], 4)],
            "small_sample": self.small_sample,
            "note": self.note,
        }


def _pct(x: float) -> str:
    """A share as a percentage: whole percents, one decimal below 10 % (where a point matters)."""
    return f"{100 * x:.1f}%" if 0 < x < 0.1 else f"{100 * x:.0f}%"

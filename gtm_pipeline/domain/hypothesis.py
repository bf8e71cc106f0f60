"""A hypothesis: which behaviour makes a company worth a first touch, and why.

Discovery looks for *behavioural* signals (something a company or person did or said
recently, with a dated source), not firmographics. The rubric and the disqualifiers are
what the augment-profile skill judges; the threshold and the routing stay in code.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gtm_pipeline.domain.signals import SIGNAL_KINDS, SignalKind

_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SignalSpec(_Model):
    """A kind of behaviour that counts as a signal for this hypothesis."""

    type: str = Field(min_length=1, max_length=80)
    description: str = Field(min_length=1)
    keywords: list[str] = Field(min_length=1)


class Criterion(_Model):
    """A rubric criterion: met when the profile shows evidence of it."""

    id: str = Field(min_length=1, max_length=80)
    description: str
    keywords: list[str] = Field(min_length=1)
    weight: float = Field(gt=0, le=10)


class Disqualifier(_Model):
    """Something that makes a prospect not a fit, whatever its signals."""

    id: str = Field(min_length=1, max_length=80)
    description: str
    keywords: list[str] = Field(default_factory=list)
    max_headcount: int | None = Field(default=None, ge=1)
    min_headcount: int | None = Field(default=None, ge=1)


class JobBoard(_Model):
    """A company's public job board: its ATS, the board's token, and the company's own domain."""

    ats: Literal["greenhouse", "lever", "ashby"]
    token: str = Field(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9._-]+$")
    domain: str = Field(min_length=3, max_length=253)


def _default_weights() -> dict[SignalKind, float]:
    return dict.fromkeys(SIGNAL_KINDS, 1.0)


class DiscoverySection(_Model):
    """How to look: the queries each kind of source is asked, the signal kinds that count and their
    weights, the window, and what never counts. Empty query lists: that kind of source is not asked
    (the sample corpus, offline, needs none)."""

    search_queries: list[str] = Field(default_factory=list, max_length=50)
    news_queries: list[str] = Field(default_factory=list, max_length=50)
    filings_queries: list[str] = Field(default_factory=list, max_length=50)
    job_keywords: list[str] = Field(default_factory=list, max_length=50)
    job_boards: list[JobBoard] = Field(default_factory=list, max_length=500)
    feeds: list[str] = Field(default_factory=list, max_length=200)
    weights: dict[SignalKind, float] = Field(default_factory=_default_weights)
    kind_keywords: dict[SignalKind, list[str]] = Field(default_factory=dict)
    lookback_days: int | None = Field(default=None, ge=1, le=730)  # default: the hypothesis' recency_days
    min_score: float = Field(default=0.0, ge=0)
    max_results_per_query: int = Field(default=25, ge=1, le=100)
    exclude_domains: list[str] = Field(default_factory=list)  # companies never discovered
    exclude_sources: list[str] = Field(default_factory=list)  # hosts whose pages never count
    sources: list[str] | None = None  # only these sources (by name); default: every one configured

    @field_validator("weights")
    @classmethod
    def _weights_in_range(cls, value: dict[SignalKind, float]) -> dict[SignalKind, float]:
        for kind, weight in value.items():
            if not 0 <= weight <= 10:
                raise ValueError(f"{kind}: a weight is between 0 and 10")
        return value

    @field_validator("feeds")
    @classmethod
    def _feeds_are_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.startswith(("https://", "http://")):
                raise ValueError(f"{url!r}: a feed is an http(s) URL")
        return value


class Hypothesis(_Model):
    """A parsed ``hypotheses/<slug>.md`` file."""

    slug: str
    title: str = Field(min_length=3)
    version: str = Field(min_length=1)
    industries: list[str] = Field(min_length=1)
    signals: list[SignalSpec] = Field(min_length=1)
    recency_days: int = Field(default=180, ge=1, le=3650)
    rubric: list[Criterion] = Field(min_length=1)
    qualify_threshold: float = Field(default=0.5, ge=0, le=1)
    disqualifiers: list[Disqualifier] = Field(default_factory=list)
    personas: list[str] = Field(default_factory=list)
    value_proposition: str = Field(min_length=10)
    discovery: DiscoverySection = Field(default_factory=DiscoverySection)
    body: str = ""

    @property
    def lookback_days(self) -> int:
        """How far back a discovery signal may be dated: the discovery section's, else recency_days."""
        return self.discovery.lookback_days or self.recency_days

    @field_validator("slug")
    @classmethod
    def _slug_shape(cls, value: str) -> str:
        if not _SLUG_RE.match(value):
            raise ValueError("slug must be lowercase letters, digits and dashes")
        return value

    @property
    def content_hash(self) -> str:
        """Hash of everything that can change a judgment: feeds Dagster code versions."""
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

"""Behavioural signals as data (pure): what a discovery source returned, and what survived checking.

A discovery source (a search API, a news index, filings, job boards, the sample corpus) returns
:class:`Hit` s: a page that may say something dated about a company. A hit becomes a
:class:`Signal` only once checked in plain code: its quote is found in the page as fetched, its date
is known and inside the hypothesis' lookback, its source is not excluded, and it is attributed to a
company's own domain. Everything else is a :class:`Rejection` with its reason, journaled, never
dropped. The score of a candidate is the sum of its signals' contributions (the hypothesis' weight
for the signal's kind, times its recency), so a reviewer sees why a company is in the queue.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Literal, get_args

SignalKind = Literal[
    "hiring",
    "leadership_change",
    "funding",
    "regulatory_event",
    "product_launch",
    "public_statement",
    "technology_adoption",
]
SIGNAL_KINDS: tuple[SignalKind, ...] = get_args(SignalKind)  # one list: the type's
QueryKind = Literal["search", "news", "filings", "jobs", "feed"]

# Why a hit did not become a signal: stable values (journaled, counted in reports and the benchmark).
REJECTION_REASONS = (
    "quote_not_in_source",  # the page as fetched does not contain the quote the source gave
    "date_unknown",  # neither the page nor the source dates it
    "outside_lookback",  # dated before the window (or after today)
    "excluded_source",  # the page's host, or the company, is excluded by the hypothesis
    "unattributed",  # no company's own site could be named for it
    "not_fetched",  # the page could not be fetched (robots, SSRF guard, size, type, HTTP status)
    "no_signal_kind",  # the quote says nothing the hypothesis counts
    "source_failed",  # the source itself failed (429 after retries, 5xx, timeout, malformed answer)
)


@dataclass(frozen=True)
class Query:
    """One question put to a source: the hypothesis' query text, its kind and its date window."""

    text: str
    kind: QueryKind
    since: dt.date
    until: dt.date
    limit: int = 25
    # A job board (kind "jobs"): ``"greenhouse:acmehealth"``, ``"lever:acme@acme.example"`` (the
    # ATS, the board's token, and the company's own domain when known); None: ``text`` is the spec.
    board: str | None = None
    # Words a job title must contain (any one, whole words, case-folded); empty: every job.
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Hit:
    """One result as a source returned it, before any check.

    ``quote`` is the source's own words for the result (a highlight, a snippet, a title, a job
    title): what must then be found in the fetched page. ``company_domain`` is set only where the
    source itself names the company's site (a job board configured for a domain, the corpus);
    ``kind_hint`` where the source implies the kind (a job board: hiring; an 8-K item: its kind).
    """

    source: str
    query: str
    url: str
    title: str
    quote: str
    published_on: dt.date | None
    company_name: str | None = None
    company_domain: str | None = None
    kind_hint: SignalKind | None = None


@dataclass(frozen=True)
class Signal:
    """A checked signal: a kind, a date, a quote found in its fetched source, and where."""

    kind: SignalKind
    date: dt.date
    quote: str
    url: str
    source: str  # the discovery source that found it (exa, tavily, gdelt, hn, edgar, ats, corpus)
    company_domain: str
    source_id: str  # the stored document it was checked against
    weight: float = 0.0
    recency: float = 0.0

    @property
    def contribution(self) -> float:
        return round(self.weight * self.recency, 4)

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "date": self.date.isoformat(),
            "quote": self.quote,
            "url": self.url,
            "source": self.source,
            "source_id": self.source_id,
            "weight": self.weight,
            "recency": round(self.recency, 4),
            "contribution": self.contribution,
        }


@dataclass(frozen=True)
class Rejection:
    """A hit that did not become a signal, and why (one of :data:`REJECTION_REASONS`)."""

    reason: str
    url: str
    source: str
    detail: str = ""
    company_domain: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "reason": self.reason,
            "url": self.url,
            "source": self.source,
            "detail": self.detail[:300],
            "company_domain": self.company_domain,
        }


@dataclass
class Candidate:
    """A company with at least one checked signal, merged across sources by normalised domain."""

    domain: str
    name: str
    signals: list[Signal] = field(default_factory=list)

    @property
    def score(self) -> float:
        return round(sum(s.contribution for s in self.signals), 4)

    @property
    def sources(self) -> list[str]:
        return sorted({s.source for s in self.signals})


def recency(date: dt.date, today: dt.date, lookback_days: int) -> float:
    """1.0 for today, falling linearly to 0.0 at the edge of the lookback window (0 outside it)."""
    age = (today - date).days
    if age < 0 or age > lookback_days:
        return 0.0
    return round(1.0 - age / (lookback_days + 1), 4)


# What each kind of signal sounds like, checked in this order (a leadership hire is a leadership
# change before it is hiring; a funded launch is funding before it is a launch). A hypothesis adds
# its own words per kind (``discovery.kind_keywords``); matching is on whole words, case-folded.
KIND_WORDS: dict[SignalKind, tuple[str, ...]] = {
    "leadership_change": (
        "appointed", "appoints", "names new", "named", "joins as", "new chief", "new head of",
        "promoted to", "steps down", "stepped down", "first head of", "new ceo", "new cto", "new ciso",
    ),
    "funding": (
        "raised", "raises", "series a", "series b", "series c", "seed round", "funding round",
        "financing", "investment led by", "closed a round", "funded", "form d",
    ),
    "regulatory_event": (
        "audit", "audits", "certification", "certified", "soc 2", "hipaa", "iso 27001", "regulator",
        "regulatory", "inspection", "consent order", "compliance program", "accreditation", "8-k",
    ),
    "hiring": (
        "hiring", "hire", "hires", "hired", "we are hiring", "join our team", "open role", "open roles",
        "looking for a", "recruiting", "job opening", "vacancy",
    ),
    "technology_adoption": (
        "adopted", "adopts", "deploys", "deployed", "rolled out", "rolls out", "migrated to",
        "implemented", "selects", "selected", "automating", "automation", "automate", "replacing",
    ),
    "product_launch": (
        "launched", "launches", "launch", "introduces", "introduced", "unveils", "unveiled",
        "now available", "released", "opened",
    ),
    "public_statement": (
        "said", "says", "shared", "wrote", "told", "announced", "announces", "interview", "podcast",
        "talk", "keynote", "blog", "priority", "priorities",
    ),
}  # fmt: skip


def _word_pattern(words: tuple[str, ...] | list[str]) -> re.Pattern[str] | None:
    if not words:
        return None
    alternatives = "|".join(re.escape(w.lower()) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])")


def kinds_named(text: str, extra: dict[SignalKind, list[str]] | None = None) -> list[SignalKind]:
    """Every kind of signal ``text`` speaks of, in :data:`KIND_WORDS` order (pure, deterministic):
    what a quote is classified as, and what a "not now" reply says it waits for."""
    folded = " ".join(text.lower().split())
    found: list[SignalKind] = []
    for kind in SIGNAL_KINDS_BY_PRECEDENCE:
        words = (*KIND_WORDS[kind], *((extra or {}).get(kind, [])))
        pattern = _word_pattern(words)
        if pattern is not None and pattern.search(folded):
            found.append(kind)
    return found


def classify(
    quote: str,
    title: str = "",
    *,
    hint: SignalKind | None = None,
    extra: dict[SignalKind, list[str]] | None = None,
) -> SignalKind:
    """The kind of one signal: the source's own hint (a job board is hiring), else the first kind
    the quote (then the title) speaks of, else a public statement (a dated first-hand word)."""
    if hint is not None:
        return hint
    for text in (quote, title):
        named = kinds_named(text, extra)
        if named:
            return named[0]
    return "public_statement"


SIGNAL_KINDS_BY_PRECEDENCE: tuple[SignalKind, ...] = tuple(KIND_WORDS)

"""From a source's hit to a checked signal or a rejection with its reason, in plain code.

Search APIs summarise, truncate and go stale; a news index dates what it saw, not what happened. So
a hit counts only once the page it names has been read (:mod:`gtm_pipeline.sources.readers`) and:

1. the page's host, and the company, are not excluded by the hypothesis;
2. the quote the source gave is in the page as read (whitespace, quotes and Unicode folded);
3. the page is dated (its own JSON-LD or htmldate reading; else the source's date), inside the
   lookback window and not in the future;
4. it is attributed to a company's own site: the source says so (a job board configured for the
   company, the sample corpus), or the page says which organization it is about (JSON-LD
   ``about`` / ``mentions``), or a filing names a site that spells its filer's name
   (:mod:`gtm_pipeline.domain.filer_site`), or the page is on the company's own site (not a
   publisher's, and not from a source that reports on others: a news index, filings);
5. its kind is one the hypothesis counts (a weight above zero).

The order is fixed so the same hit gives the same answer on every replay.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlsplit

from gtm_pipeline.domain.filer_site import site_named_in
from gtm_pipeline.domain.hypothesis import Hypothesis
from gtm_pipeline.domain.ids import normalize_domain
from gtm_pipeline.domain.signals import Hit, Rejection, Signal, SignalKind, classify, recency
from gtm_pipeline.domain.sources import normalize_for_match
from gtm_pipeline.sources.readers import ReadPage, Unread

# Hosts that publish about other companies: a page there is never the company's own site.
PUBLISHERS = frozenset(
    {
        "news.ycombinator.com",
        "sec.gov",
        "www.sec.gov",
        "efts.sec.gov",
        "github.com",
        "medium.com",
        "linkedin.com",
        "www.linkedin.com",
        "twitter.com",
        "x.com",
        "youtube.com",
        "www.youtube.com",
        "prnewswire.com",
        "www.prnewswire.com",
        "businesswire.com",
        "www.businesswire.com",
        "globenewswire.com",
        "www.globenewswire.com",
    }
)
THIRD_PARTY_SOURCES = frozenset({"gdelt", "edgar"})  # their pages report on others
FILING_SOURCES = frozenset({"edgar"})  # they name the filer, so a site in the text can be matched


@dataclass(frozen=True)
class CheckRules:
    """What the hypothesis says counts, fixed for one discovery pass."""

    today: dt.date
    lookback_days: int
    weights: dict[SignalKind, float]
    kind_keywords: dict[SignalKind, list[str]]
    exclude_domains: frozenset[str]
    exclude_hosts: frozenset[str]

    @classmethod
    def of(cls, hypothesis: Hypothesis, today: dt.date) -> CheckRules:
        section = hypothesis.discovery
        return cls(
            today=today,
            lookback_days=hypothesis.lookback_days,
            weights=dict(section.weights),
            kind_keywords=dict(section.kind_keywords),
            exclude_domains=frozenset(normalize_domain(d) for d in section.exclude_domains),
            exclude_hosts=frozenset(h.lower().strip() for h in section.exclude_sources),
        )


def host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _excluded_host(host: str, excluded: frozenset[str]) -> bool:
    return any(host == h or host.endswith("." + h) for h in excluded)


def attribute(hit: Hit, page: ReadPage) -> str | None:
    """The company's own domain this hit speaks about, or None (see the module's rule 4)."""
    if hit.company_domain:
        return normalize_domain(hit.company_domain)
    host = host_of(page.doc.url)
    for url in page.about_urls:  # a page that says which organization it reports on is believed
        about = host_of(url)
        if about and about != host and about not in PUBLISHERS:
            return normalize_domain(about)
    if hit.source in FILING_SOURCES and hit.company_name:
        named = site_named_in(page.doc.text, hit.company_name)
        if named is not None and named not in PUBLISHERS:
            return named
    if hit.source not in THIRD_PARTY_SOURCES and host and host not in PUBLISHERS:
        return normalize_domain(host)
    return None


def check(hit: Hit, page: ReadPage | Unread, rules: CheckRules) -> Signal | Rejection:
    """One hit, checked: a :class:`Signal`, or a :class:`Rejection` naming the first rule it broke."""

    def rejected(reason: str, detail: str = "", domain: str | None = None) -> Rejection:
        return Rejection(reason, hit.url, hit.source, detail, domain or hit.company_domain)

    if _excluded_host(host_of(hit.url), rules.exclude_hosts):
        return rejected("excluded_source", f"{host_of(hit.url)} is excluded by the hypothesis")
    if isinstance(page, Unread):
        return rejected("not_fetched", f"{page.reason}: {page.detail}"[:300])
    domain = attribute(hit, page)
    if domain is not None and domain in rules.exclude_domains:
        return rejected("excluded_source", f"{domain} is excluded by the hypothesis", domain)
    if _excluded_host(host_of(page.doc.url), rules.exclude_hosts):
        return rejected("excluded_source", f"redirected to excluded {host_of(page.doc.url)}", domain)
    quote = normalize_for_match(hit.quote)
    if not quote or quote not in normalize_for_match(f"{page.doc.title}\n{page.doc.text}"):
        # (the quote itself is not repeated: this record outlives any person the quote may name)
        return rejected("quote_not_in_source", "the page as fetched does not contain the quote", domain)
    date = page.doc.published_on or hit.published_on
    if date is None:
        return rejected("date_unknown", "neither the page nor the source dates it", domain)
    age = (rules.today - date).days
    if age < 0 or age > rules.lookback_days:
        return rejected(
            "outside_lookback",
            f"dated {date.isoformat()}, outside the {rules.lookback_days} days before {rules.today}",
            domain,
        )
    if domain is None:
        why = "the filing names no site that spells its filer's name" if hit.source in FILING_SOURCES else ""
        return rejected("unattributed", why or f"no company's own site is named for a {hit.source} hit")
    kind = classify(hit.quote, hit.title, hint=hit.kind_hint, extra=rules.kind_keywords)
    weight = rules.weights.get(kind, 0.0)
    if weight <= 0:
        return rejected("no_signal_kind", f"{kind} does not count for this hypothesis", domain)
    return Signal(
        kind=kind,
        date=date,
        quote=hit.quote.strip(),
        url=page.doc.url,
        source=hit.source,
        company_domain=domain,
        source_id=page.doc.source_id,
        weight=weight,
        recency=recency(date, rules.today, rules.lookback_days),
    )

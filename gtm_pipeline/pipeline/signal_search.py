"""Ask the discovery sources a hypothesis' questions and check every answer.

For each source the hypothesis selects, each of its queries (by kind: search, news, filings, job
boards, feeds) is asked once per cache window: an identical query inside the window is answered from
the store (``source_answers``), not paid for twice. A paid source is asked only under the discovery
group's daily cap, and never by a dry run unless the operator allows the spend; every call's list
price goes to the spend ledger. A source that fails (429 after its retries, 5xx, timeout, malformed
answer) is recorded with its reason and the pass goes on with the others. Every hit is then read and
checked (:mod:`gtm_pipeline.pipeline.signal_check`); what passes merges into candidates by normalised
domain, every signal kept; what does not is a rejection with its reason. Nothing is dropped unseen.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from gtm_pipeline.domain.contracts import Usage
from gtm_pipeline.domain.hypothesis import Hypothesis
from gtm_pipeline.domain.ids import normalize_domain, prospect_id
from gtm_pipeline.domain.signals import Candidate, Hit, Query, QueryKind, Rejection, Signal
from gtm_pipeline.domain.sources import SourceDoc
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.pipeline.signal_check import CheckRules, check
from gtm_pipeline.sources.discovery.base import DiscoverySource, SourceFailed
from gtm_pipeline.sources.discovery.corpus_source import CORPUS_SOURCE
from gtm_pipeline.sources.readers import PageReader, ReadPage, SnapshotReader, WebReader
from gtm_pipeline.store.source_answers import answer_key

SKILL = "discover-prospects"  # the discovery skill; its group's daily cap covers paid sources too
KIND_OF_QUERY: dict[QueryKind, str] = {
    "search": "news",
    "news": "news",
    "filings": "news",
    "jobs": "careers",
    "feed": "news",
}


@dataclass
class Gathered:
    """One pass over the sources: candidates with their checked signals, and everything else."""

    hypothesis: str
    today: dt.date
    candidates: dict[str, Candidate] = field(default_factory=dict)  # by normalised domain
    rejections: list[Rejection] = field(default_factory=list)
    pages: dict[str, dict[str, SourceDoc]] = field(default_factory=dict)  # domain -> source id -> doc
    provenance: dict[str, dict[str, object]] = field(default_factory=dict)  # source id -> fetch record
    offered: dict[tuple[str, str], str] = field(default_factory=dict)  # (name, spelling) -> domain
    hits: int = 0
    calls: Counter[str] = field(default_factory=Counter)
    cache_hits: Counter[str] = field(default_factory=Counter)
    spend_usd: float = 0.0
    failures: list[dict[str, str]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)  # queries not asked, and why
    suppressed: int = 0  # hits on suppressed companies, not read

    def rejected_by_reason(self) -> dict[str, int]:
        return dict(sorted(Counter(r.reason for r in self.rejections).items()))

    def summary(self) -> dict[str, Any]:
        """Counts only (no quotes, no names): what the journal and Dagster's metadata carry."""
        return {
            "hypothesis": self.hypothesis,
            "as_of": self.today.isoformat(),
            "hits": self.hits,
            "candidates": len(self.candidates),
            "signals": sum(len(c.signals) for c in self.candidates.values()),
            "rejected": self.rejected_by_reason(),
            "calls": dict(sorted(self.calls.items())),
            "cache_hits": dict(sorted(self.cache_hits.items())),
            "spend_usd": round(self.spend_usd, 4),
            "failures": self.failures,
            "skipped": self.skipped,
            "suppressed_hits": self.suppressed,
        }


def selected_sources(services: Services, hypothesis: Hypothesis) -> list[DiscoverySource]:
    """The sources this hypothesis asks: those it names, else every configured source that answers
    one of its kinds of query, else (a hypothesis with no queries) the sample corpus."""
    available = services.discovery_sources
    named = hypothesis.discovery.sources
    if named is not None:
        missing = [n for n in named if n not in available]
        if missing:
            raise ValueError(
                f"hypothesis {hypothesis.slug}: discovery.sources names {missing}, not configured "
                f"(configured: {sorted(available)}; a paid source needs its API key)"
            )
        return [available[n] for n in named]
    kinds = _query_kinds(hypothesis)
    if not kinds:
        return [available[CORPUS_SOURCE]]
    return [s for name, s in sorted(available.items()) if name != CORPUS_SOURCE and s.kinds & kinds]


def _query_kinds(hypothesis: Hypothesis) -> set[QueryKind]:
    section = hypothesis.discovery
    kinds: set[QueryKind] = set()
    for kind, present in (
        ("search", section.search_queries),
        ("news", section.news_queries),
        ("filings", section.filings_queries),
        ("jobs", section.job_boards),
        ("feed", section.feeds),
    ):
        if present:
            kinds.add(kind)  # type: ignore[arg-type]
    return kinds


def queries_for(source: DiscoverySource, hypothesis: Hypothesis, today: dt.date) -> list[Query]:
    """The questions ``source`` is asked for ``hypothesis``, each with the lookback window."""
    section = hypothesis.discovery
    since, limit = today - dt.timedelta(days=hypothesis.lookback_days), section.max_results_per_query
    if source.name == CORPUS_SOURCE:
        return [Query(hypothesis.slug, "search", since, today, limit)]
    queries: list[Query] = []
    for kind, texts in (
        ("search", section.search_queries),
        ("news", section.news_queries),
        ("filings", section.filings_queries),
        ("feed", section.feeds),
    ):
        if kind in source.kinds:
            queries += [Query(text, kind, since, today, limit) for text in texts]
    if "jobs" in source.kinds:
        for board in section.job_boards:
            queries.append(
                Query(
                    f"{board.ats}:{board.token}@{board.domain}",
                    "jobs",
                    since,
                    today,
                    limit,
                    **_board_fields(board.ats, board.token, board.domain, section.job_keywords),
                )
            )
    return queries


def _board_fields(ats: str, token: str, domain: str, keywords: list[str]) -> dict[str, Any]:
    """The optional job-board fields of :class:`Query`, where this version of it has them."""
    names = {f.name for f in dataclasses.fields(Query)}
    fields: dict[str, Any] = {}
    if "board" in names:
        fields["board"] = f"{ats}:{token}@{domain}"
    if "keywords" in names:
        fields["keywords"] = tuple(keywords)
    return fields


def reader_for(services: Services) -> tuple[PageReader, dt.date]:
    """Pages are read through the fetcher when it is on (today is the clock's); else from the
    sample corpus's snapshot, judged as of the snapshot's day."""
    if services.web is not None:
        return WebReader(services.web), services.clock.now().date()
    return SnapshotReader(services.corpus), services.corpus.as_of


def gather(
    services: Services, hypothesis: Hypothesis, *, dry_run: bool = False, allow_spend: bool = False
) -> Gathered:
    """Ask, read, check and merge (see the module docstring). Writes only the answer cache and the
    spend ledger (and, in a dry run, only for a paid call the operator allowed)."""
    reader, today = reader_for(services)
    rules = CheckRules.of(hypothesis, today)
    gathered = Gathered(hypothesis.slug, today)
    for source in selected_sources(services, hypothesis):
        for query in queries_for(source, hypothesis, today):
            for hit in _ask(services, source, query, gathered, dry_run=dry_run, allow_spend=allow_spend):
                gathered.hits += 1
                if hit.company_domain and _suppressed(services, hit.company_domain):
                    # an erased or opted-out company: its pages are not read again (nor cached)
                    gathered.suppressed += 1
                    continue
                page = reader.read(hit.url, kind=KIND_OF_QUERY[query.kind], today=today)
                _take(gathered, hit, page, check(hit, page, rules))
    return gathered


def _take(gathered: Gathered, hit: Hit, page: object, outcome: Signal | Rejection) -> None:
    domain = outcome.company_domain
    if domain is not None:
        spelling = hit.company_domain or domain
        gathered.offered.setdefault((hit.company_name or "", spelling), normalize_domain(domain))
    if isinstance(page, ReadPage) and domain is not None:
        docs = gathered.pages.setdefault(normalize_domain(domain), {})
        docs.setdefault(page.doc.source_id, page.doc)
        if page.provenance:
            gathered.provenance.setdefault(page.doc.source_id, page.provenance)
    if isinstance(outcome, Rejection):
        gathered.rejections.append(outcome)
        return
    candidate = gathered.candidates.setdefault(
        outcome.company_domain, Candidate(outcome.company_domain, hit.company_name or outcome.company_domain)
    )
    if not any(s.url == outcome.url and s.kind == outcome.kind for s in candidate.signals):
        candidate.signals.append(outcome)


def _ask(
    services: Services,
    source: DiscoverySource,
    query: Query,
    gathered: Gathered,
    *,
    dry_run: bool,
    allow_spend: bool,
) -> list[Hit]:
    store = services.store
    cacheable = source.name != CORPUS_SOURCE
    key = answer_key(source.name, {**dataclasses.asdict(query), "since": query.since, "until": query.until})
    window = dt.timedelta(hours=services.settings.discovery.cache_hours)
    if cacheable:
        cached = store.source_answers.fresh(key, since=store.now() - window)
        if cached is not None:
            gathered.cache_hits[source.name] += 1
            return [_hit(h) for h in cached]
    cost = source.cost_usd(query) if source.paid else 0.0
    if source.paid:
        refusal = _spend_refusal(services, source.name, cost, dry_run=dry_run, allow_spend=allow_spend)
        if refusal is not None:
            gathered.skipped.append({"source": source.name, "query": query.text, "reason": refusal})
            return []
    try:
        hits = source.search(query)
    except SourceFailed as failed:
        gathered.failures.append(
            {
                "source": source.name,
                "query": query.text,
                "reason": failed.reason,
                "detail": failed.detail[:200],
            }
        )
        return []
    gathered.calls[source.name] += 1
    if source.paid:
        gathered.spend_usd += cost
        store.spend.record(
            day=store.now().date(),
            group=_group(services),
            provider=source.name,
            model=f"{query.kind}-search",
            usage=Usage(),
            cost_usd=cost,
        )
    if cacheable and (not dry_run or source.paid):
        store.source_answers.keep(
            key, source=source.name, query_kind=query.kind, hits=[_plain(h) for h in hits], cost_usd=cost
        )
    return hits


def _suppressed(services: Services, domain: str) -> bool:
    return services.store.privacy.suppression_reason(prospect_id(normalize_domain(domain))) is not None


def _group(services: Services) -> str:
    return services.catalog.skill(SKILL).group.spec.name


def _spend_refusal(
    services: Services, source: str, cost: float, *, dry_run: bool, allow_spend: bool
) -> str | None:
    if dry_run and not allow_spend:
        return "dry run: a paid source is asked only with --allow-spend"
    group = services.catalog.skill(SKILL).group.spec
    today = services.store.now().date()
    cap = group.daily_spend_cap_usd
    spent = services.store.spend.on(today, group.name)
    if cap is not None and spent + cost > cap:
        return f"group {group.name} would pass its daily cap of ${cap:g} (spent ${spent:.4f} today)"
    search_cap = services.settings.discovery.daily_cap_usd
    paid = [name for name, source in services.discovery_sources.items() if source.paid]
    searched = services.store.spend.on(today, providers=paid)
    if searched + cost > search_cap:
        return f"paid search would pass discovery.daily_cap_usd ${search_cap:g} (spent ${searched:.4f} today)"
    return None


def _plain(hit: Hit) -> dict[str, Any]:
    data = dataclasses.asdict(hit)
    data["published_on"] = hit.published_on.isoformat() if hit.published_on else None
    return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}


def _hit(data: dict[str, Any]) -> Hit:
    known = {f.name for f in dataclasses.fields(Hit)}
    values = {k: v for k, v in data.items() if k in known}
    published = values.get("published_on")
    values["published_on"] = dt.date.fromisoformat(published) if published else None
    return Hit(**values)

"""A company's newsroom feeds (RSS / Atom, found by autodiscovery), as dated news documents.

A site may advertise several feeds (news, press releases, blog); the first few are read, and each
feed's newest entries are kept. An entry is only a signal with its date, so an undated entry, one
dated in the future, or one without a link to quote from is recorded as skipped, with its reason,
like every entry past the per-feed budget.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import feedparser

from gtm_pipeline.domain.ids import content_hash
from gtm_pipeline.domain.sources import SourceDoc
from gtm_pipeline.sources.fetcher import FEED_TYPES, HTML_TYPES, Fetched, Fetcher, FetchRefused
from gtm_pipeline.sources.site_visit import SiteVisit, source_id_of

MAX_FEEDS = 3  # feeds read per visit, in the order the home page advertises them
MAX_ENTRIES = 10  # newest entries kept per feed


def read_feeds(fetcher: Fetcher, visit: SiteVisit, feed_urls: tuple[str, ...], today: dt.date) -> None:
    """Read the first :data:`MAX_FEEDS` feeds; the others are recorded as not read."""
    for url in feed_urls[:MAX_FEEDS]:
        try:
            page = fetcher.get(url, accept=(*FEED_TYPES, *HTML_TYPES))
        except FetchRefused as refused:
            visit.refused(refused)
            continue
        _entries(visit, page, today)
    for url in feed_urls[MAX_FEEDS:]:
        visit.skipped(url, "over_budget", f"feed not read: at most {MAX_FEEDS} feeds per site")


def _entries(visit: SiteVisit, page: Fetched, today: dt.date) -> None:
    """Keep the newest dated entries of one feed; record the others, grouped by reason."""
    dated: list[tuple[dt.date, str, Any]] = []
    left_out: dict[str, list[str]] = {}  # reason -> titles: one record per reason, not per entry
    for entry in feedparser.parse(page.text).entries:
        link = str(entry.get("link") or "")
        published = _published(entry)
        title = repr(str(entry.get("title") or "")[:80])
        if not link:
            left_out.setdefault("no_link", []).append(title)
        elif published is None:
            left_out.setdefault("undated", []).append(title)
        elif published > today:
            left_out.setdefault("future_date", []).append(f"{title} ({published.isoformat()})")
        else:
            dated.append((published, link, entry))
    dated.sort(key=lambda item: item[0], reverse=True)
    for published, link, entry in dated[:MAX_ENTRIES]:
        _keep(visit, page, published, link, entry)
    if len(dated) > MAX_ENTRIES:
        left_out["over_budget"] = [f"{link} ({d.isoformat()})" for d, link, _e in dated[MAX_ENTRIES:]]
    for reason, items in left_out.items():
        visit.skipped(page.url, reason, _detail(reason, items), page.final_url)


def _detail(reason: str, items: list[str]) -> str:
    """Why, how many, and the first few (a journal line, not a dump of the feed)."""
    why = {
        "no_link": "without a link to read or quote",
        "undated": "without a date (a signal is only as good as its date)",
        "future_date": "dated after today",
        "over_budget": f"older than the newest {MAX_ENTRIES} kept",
    }[reason]
    shown = "; ".join(items[:5]) + ("; …" if len(items) > 5 else "")
    return f"{len(items)} feed entries {why}: {shown}"


def _published(entry: Any) -> dt.date | None:
    """The entry's publication date, else its update date (feedparser parses both, in UTC)."""
    stamp = entry.get("published_parsed") or entry.get("updated_parsed")
    try:
        return dt.date(*stamp[:3]) if stamp else None
    except (TypeError, ValueError):
        return None


def _keep(visit: SiteVisit, page: Fetched, published: dt.date, link: str, entry: Any) -> None:
    """One entry as a news document: its title and summary, under its own page's source id."""
    summary = " ".join(str(entry.get("summary") or "").split())
    title = str(entry.get("title") or "")
    text = f"{title}. {summary}".strip()
    doc = SourceDoc(
        source_id=source_id_of(link),
        url=link,
        kind="news",
        title=title,
        text=text,
        published_on=published,
        retrieved_at=page.retrieved_at,
        content_hash=content_hash(text),
    )
    # A page of the site already read in full wins over the feed's summary of it (keep says no).
    visit.keep(doc, {**page.provenance(), "date_source": "feed", "feed": page.url})

"""Watched feeds as a discovery source: a newsroom's RSS or Atom feed, read through the fetcher.

Each entry in the window is a hit: its link, its title as the quote (the page must then say it), its
date. The company is the one whose site the entry links to (the discovery check attributes it), so
a feed of a third party's news needs its pages to say what they are about.
"""

from __future__ import annotations

import datetime as dt

import feedparser

from gtm_pipeline.domain.signals import Hit, Query, QueryKind
from gtm_pipeline.sources.discovery.base import SourceFailed
from gtm_pipeline.sources.fetcher import FEED_TYPES, HTML_TYPES, Fetcher, FetchRefused


class FeedSource:
    """:class:`~gtm_pipeline.sources.discovery.base.DiscoverySource` over feeds (``Query.text`` is the
    feed's URL), polite and SSRF-guarded like every page."""

    name = "feeds"
    kinds: frozenset[QueryKind] = frozenset({"feed"})
    paid = False

    def __init__(self, fetcher: Fetcher) -> None:
        self.fetcher = fetcher

    def cost_usd(self, query: Query) -> float:
        return 0.0

    def search(self, query: Query) -> list[Hit]:
        try:
            page = self.fetcher.get(query.text, accept=(*FEED_TYPES, *HTML_TYPES))
        except FetchRefused as refused:
            raise SourceFailed(self.name, refused.reason, refused.detail) from None
        parsed = feedparser.parse(page.text)
        if parsed.bozo and not parsed.entries:
            raise SourceFailed(self.name, "malformed", str(parsed.get("bozo_exception", ""))[:200])
        hits = []
        for entry in parsed.entries:
            link, title = str(entry.get("link") or ""), str(entry.get("title") or "").strip()
            stamp = entry.get("published_parsed") or entry.get("updated_parsed")
            published = dt.date(*stamp[:3]) if stamp else None
            if not link or not title or (published and not query.since <= published <= query.until):
                continue
            hits.append(Hit(self.name, query.text, link, title, title, published))
        return hits[: query.limit]

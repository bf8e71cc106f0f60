"""Hacker News through Algolia's search (keyless): stories that match a query, newest first.

``GET {base}/api/v1/search_by_date?query=…&tags=story&numericFilters=created_at_i>=S,created_at_i<E
&hitsPerPage=N`` answers ``{"hits": [{"objectID", "title", "url", "story_text", "author",
"created_at", "created_at_i", "points", …}], "nbHits", "page", …}``. A story that links out is
its URL (the page the quote is then checked against); an Ask/Show HN without a link is its item
page. The quote is the title, or the start of the story's own text when it has no title.
"""

from __future__ import annotations

import datetime as dt
import html
import re

from gtm_pipeline.domain.signals import Hit, Query, QueryKind
from gtm_pipeline.sources.discovery.http import (
    JsonClient,
    day_start,
    epoch_date,
    iso_date,
    malformed,
    required,
)

HN = "hn"
HN_URL = "https://hn.algolia.com"
HN_ITEM = "https://news.ycombinator.com/item?id={id}"
HN_RATE_PER_S = 2.0  # Algolia allows 10,000 requests an hour per address
MAX_HITS = 1000
_TAGS = re.compile(r"<[^>]+>")


def story_text_start(text: str, limit: int = 200) -> str:
    plain = " ".join(html.unescape(_TAGS.sub(" ", text)).split())
    return plain[:limit].rsplit(" ", 1)[0] if len(plain) > limit else plain


class HackerNewsSource:
    """:class:`~gtm_pipeline.sources.discovery.base.DiscoverySource` over HN Algolia search."""

    name = HN
    kinds: frozenset[QueryKind] = frozenset({"search", "news"})
    paid = False

    def __init__(self, http: JsonClient, base_url: str = HN_URL) -> None:
        self.http, self.base_url = http, base_url.rstrip("/")

    def cost_usd(self, query: Query) -> float:
        return 0.0

    def search(self, query: Query) -> list[Hit]:
        end = day_start(query.until + dt.timedelta(days=1))
        params: dict[str, str | int] = {
            "query": query.text,
            "tags": "story",
            "numericFilters": f"created_at_i>={day_start(query.since)},created_at_i<{end}",
            "hitsPerPage": max(1, min(query.limit, MAX_HITS)),
        }
        data = self.http.get_json(f"{self.base_url}/api/v1/search_by_date", params)
        if not isinstance(data, dict) or not isinstance(data.get("hits"), list):
            raise malformed(self.name, "no 'hits' list")
        hits = []
        for item in data["hits"][: query.limit]:
            object_id = required(self.name, item, "objectID")
            title = " ".join(str(item.get("title") or "").split())
            text = item.get("story_text")
            quote = title or (story_text_start(text) if isinstance(text, str) else "")
            if not quote:
                raise malformed(self.name, f"story {object_id} has neither a title nor a text")
            url = item.get("url")
            published = epoch_date(item.get("created_at_i")) or iso_date(item.get("created_at"))
            hits.append(
                Hit(
                    source=self.name,
                    query=query.text,
                    url=url if isinstance(url, str) and url else HN_ITEM.format(id=object_id),
                    title=title or quote,
                    quote=quote,
                    published_on=published,
                )
            )
        return hits

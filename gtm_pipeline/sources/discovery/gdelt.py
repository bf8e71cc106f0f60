"""GDELT DOC 2.0 (keyless): news articles worldwide that match a query, in a date window.

``GET {base}/api/v2/doc/doc?query=…&mode=artlist&format=json&startdatetime=YYYYMMDDHHMMSS
&enddatetime=…&maxrecords=N&sort=datedesc`` answers ``{"articles": [{"url", "title", "seendate":
"20250301T120000Z", "domain", "language", "sourcecountry", …}]}``, or ``{}`` when nothing matched,
or a line of plain text when the query is not acceptable (read as ``malformed``). The quote is the
article's title (GDELT returns no snippet); the date is when GDELT first saw it. GDELT asks for one
request every five seconds at most.
"""

from __future__ import annotations

import datetime as dt

from gtm_pipeline.domain.signals import Hit, Query, QueryKind
from gtm_pipeline.sources.discovery.http import JsonClient, malformed, required

GDELT = "gdelt"
GDELT_URL = "https://api.gdeltproject.org"
GDELT_RATE_PER_S = 0.2
MAX_RECORDS = 250


def seen_date(value: object) -> dt.date | None:
    """``20250301T120000Z`` -> 2025-03-01."""
    if not isinstance(value, str) or len(value) < 8 or not value[:8].isdigit():
        return None
    try:
        return dt.date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    except ValueError:
        return None


class GdeltSource:
    """:class:`~gtm_pipeline.sources.discovery.base.DiscoverySource` over the GDELT DOC 2.0 API."""

    name = GDELT
    kinds: frozenset[QueryKind] = frozenset({"news"})
    paid = False

    def __init__(self, http: JsonClient, base_url: str = GDELT_URL) -> None:
        self.http, self.base_url = http, base_url.rstrip("/")

    def cost_usd(self, query: Query) -> float:
        return 0.0

    def search(self, query: Query) -> list[Hit]:
        params: dict[str, str | int] = {
            "query": query.text,
            "mode": "artlist",
            "format": "json",
            "startdatetime": f"{query.since:%Y%m%d}000000",
            "enddatetime": f"{query.until:%Y%m%d}235959",
            "maxrecords": max(1, min(query.limit, MAX_RECORDS)),
            "sort": "datedesc",
        }
        data = self.http.get_json(f"{self.base_url}/api/v2/doc/doc", params)
        if not isinstance(data, dict):
            raise malformed(self.name, f"expected an object, got {type(data).__name__}")
        articles = data.get("articles", [])  # {} is GDELT's "nothing matched"
        if not isinstance(articles, list):
            raise malformed(self.name, "'articles' is not a list")
        hits = []
        for article in articles[: query.limit]:
            url = required(self.name, article, "url")
            title = " ".join(required(self.name, article, "title").split())
            hits.append(
                Hit(
                    source=self.name,
                    query=query.text,
                    url=url,
                    title=title,
                    quote=title,
                    published_on=seen_date(article.get("seendate")),
                )
            )
        return hits

"""Exa (paid, keyed), through the official ``exa-py`` SDK: web pages that answer a query.

``Exa(api_key, base_url=…).search(query, num_results=N, type="auto", start_published_date=…,
end_published_date=…, category="news"?, contents={"highlights": True, "text": {"max_characters":
1000}})`` sends ``POST {base}/search`` with the key in ``x-api-key`` and a camelCase JSON body
(``query``, ``numResults``, ``type``, ``startPublishedDate``, ``endPublishedDate``, ``category``,
``contents``); it reads ``results[]`` (``url``, ``title``, ``publishedDate``, ``text``,
``highlights``) and ``costDollars``. The quote is the first highlight (Exa's own extract of the
page), else the start of the text; the date is Exa's ``publishedDate``.

List price (Exa pricing, March 2026): $7 per 1,000 searches with contents for up to 10 results,
and $1 per 1,000 results beyond ten.

The SDK raises ``ValueError("Request failed with status code N: …")`` on an HTTP error and does
not expose the answer's headers, so a 429 from Exa is retried after our own backoff (1 s, then
2 s) rather than its ``Retry-After``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from exa_py import Exa
from exa_py.errors import ExaTimeoutError

from gtm_pipeline.domain.signals import Hit, Query, QueryKind
from gtm_pipeline.sources.discovery.http import (
    RateLimit,
    failure_for_status,
    iso_date,
    malformed,
    with_retries,
)
from gtm_pipeline.sources.discovery.sdk_errors import transport_errors

EXA = "exa"
EXA_URL = "https://api.exa.ai"
EXA_RATE_PER_S = 5.0
SEARCH_USD = 0.007  # per request, contents for up to ten results included
EXTRA_RESULT_USD = 0.001  # per result beyond ten
MAX_RESULTS = 100
QUOTE_CHARS = 300
_STATUS = re.compile(r"status code (\d{3})")


def exa_cost(limit: int) -> float:
    results = max(1, min(limit, MAX_RESULTS))
    return round(SEARCH_USD + max(0, results - 10) * EXTRA_RESULT_USD, 6)


def snippet(text: str, limit: int = QUOTE_CHARS) -> str:
    plain = " ".join(text.split())
    return plain[:limit].rsplit(" ", 1)[0] if len(plain) > limit else plain


class ExaSource:
    """:class:`~gtm_pipeline.sources.discovery.base.DiscoverySource` over Exa search."""

    name = EXA
    kinds: frozenset[QueryKind] = frozenset({"search", "news"})
    paid = True

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = EXA_URL,
        user_agent: str | None = None,
        timeout_s: float = 20.0,
        rate_per_s: float = EXA_RATE_PER_S,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = Exa(
            api_key=api_key, base_url=base_url.rstrip("/"), user_agent=user_agent, timeout=timeout_s
        )
        self.timeout_s, self.rate, self.sleep = timeout_s, RateLimit(rate_per_s), sleep

    def cost_usd(self, query: Query) -> float:
        return exa_cost(query.limit)

    def search(self, query: Query) -> list[Hit]:
        data = with_retries(lambda: self._once(query), sleep=self.sleep)
        hits = []
        for result in data.results[: query.limit]:
            url = getattr(result, "url", None)
            if not isinstance(url, str) or not url:
                raise malformed(self.name, "a result without a url")
            title = " ".join(str(result.title or "").split())
            highlights = [h for h in (result.highlights or []) if isinstance(h, str) and h.strip()]
            text = result.text if isinstance(result.text, str) else ""
            quote = " ".join(highlights[0].split()) if highlights else snippet(text) or title
            hits.append(
                Hit(
                    source=self.name,
                    query=query.text,
                    url=url,
                    title=title,
                    quote=quote,
                    published_on=iso_date(result.published_date),
                )
            )
        return hits

    def _once(self, query: Query) -> Any:
        self.rate.wait()
        try:
            with transport_errors(self.name, self.timeout_s, (ExaTimeoutError,)):
                return self.client.search(
                    query.text,
                    num_results=max(1, min(query.limit, MAX_RESULTS)),
                    type="auto",
                    category="news" if query.kind == "news" else None,
                    start_published_date=f"{query.since.isoformat()}T00:00:00.000Z",
                    end_published_date=f"{query.until.isoformat()}T23:59:59.999Z",
                    contents={"highlights": True, "text": {"max_characters": 1000}},
                )
        except ValueError as exc:  # the SDK's error for an HTTP status, or a body that is not JSON
            found = _STATUS.search(str(exc))
            if found and str(exc).startswith("Request failed"):
                raise failure_for_status(self.name, int(found.group(1)), str(exc)[:200]) from exc
            raise malformed(self.name, str(exc)[:200]) from exc
        except (KeyError, TypeError, AttributeError) as exc:  # an answer without its documented fields
            raise malformed(self.name, f"{type(exc).__name__}: {exc}") from exc

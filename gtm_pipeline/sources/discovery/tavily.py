"""Tavily (paid, keyed), through the official ``tavily-python`` SDK: web and news search.

``TavilyClient(api_key=…, api_base_url=…, session=…).search(query, search_depth="basic",
topic="general"|"news", start_date=…, end_date=…, max_results=N, timeout=…)`` sends ``POST
{base}/search`` with ``Authorization: Bearer <key>`` and a snake_case JSON body (``query``,
``search_depth``, ``topic``, ``start_date``, ``end_date``, ``max_results``); it reads ``results[]``
(``url``, ``title``, ``content``, ``score``; ``published_date`` for the news topic only). The
quote is ``content`` (Tavily's extract of the page); the date is ``published_date`` when given.

List price: a basic search is 1 credit, $0.008 a credit pay-as-you-go.

The SDK turns a 429 into ``UsageLimitExceededError`` without the answer's headers, so the client
is given its own ``requests`` session whose response hook keeps the last answer's status and
``Retry-After`` (per thread) for the retry.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from tavily import TavilyClient
from tavily.errors import (
    BadRequestError,
    ForbiddenError,
    InvalidAPIKeyError,
    UsageLimitExceededError,
)
from tavily.errors import TimeoutError as TavilyTimeout

from gtm_pipeline.domain.clock import Clock
from gtm_pipeline.domain.signals import Hit, Query, QueryKind
from gtm_pipeline.sources.discovery.base import SourceFailed
from gtm_pipeline.sources.discovery.http import (
    RateLimit,
    failure_for_status,
    iso_date,
    malformed,
    required,
    retry_after,
    with_retries,
)
from gtm_pipeline.sources.discovery.sdk_errors import transport_errors

TAVILY = "tavily"
TAVILY_URL = "https://api.tavily.com"
TAVILY_RATE_PER_S = 1.5  # the development key's 100 requests a minute
CREDIT_USD = 0.008
MAX_RESULTS = 20


def tavily_date(value: Any) -> dt.date | None:
    """``Tue, 04 Mar 2025 16:13:45 GMT`` (what the news topic returns) or an ISO date."""
    if not isinstance(value, str) or not value.strip():
        return None
    found = iso_date(value)
    if found is not None:
        return found
    try:
        return email.utils.parsedate_to_datetime(value).date()
    except (TypeError, ValueError):
        return None


class TavilySource:
    """:class:`~gtm_pipeline.sources.discovery.base.DiscoverySource` over Tavily search."""

    name = TAVILY
    kinds: frozenset[QueryKind] = frozenset({"search", "news"})
    paid = True

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = TAVILY_URL,
        user_agent: str | None = None,
        timeout_s: float = 20.0,
        rate_per_s: float = TAVILY_RATE_PER_S,
        clock: Clock | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._last = threading.local()
        session = requests.Session()
        if user_agent:
            session.headers["User-Agent"] = user_agent
        session.hooks["response"].append(self._remember)
        self.client = TavilyClient(api_key=api_key, api_base_url=base_url.rstrip("/"), session=session)
        self.timeout_s, self.clock, self.rate, self.sleep = timeout_s, clock, RateLimit(rate_per_s), sleep

    def _remember(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._last.status = response.status_code
        self._last.retry_after = response.headers.get("retry-after")

    def cost_usd(self, query: Query) -> float:
        return CREDIT_USD

    def search(self, query: Query) -> list[Hit]:
        data = with_retries(lambda: self._once(query), sleep=self.sleep)
        results = data.get("results") if isinstance(data, dict) else None
        if not isinstance(results, list):
            raise malformed(self.name, "no 'results' list")
        hits = []
        for result in results[: query.limit]:
            url = required(self.name, result, "url")
            content = " ".join(required(self.name, result, "content").split())
            title = " ".join(str(result.get("title") or "").split())
            hits.append(
                Hit(
                    source=self.name,
                    query=query.text,
                    url=url,
                    title=title,
                    quote=content or title,
                    published_on=tavily_date(result.get("published_date")),
                )
            )
        return hits

    def _failure(self, fallback: int, detail: str) -> SourceFailed:
        status = getattr(self._last, "status", None) or fallback
        wait = retry_after(getattr(self._last, "retry_after", None), self.clock)
        return failure_for_status(self.name, status, detail[:200], wait)

    def _once(self, query: Query) -> Any:
        self.rate.wait()
        self._last.status, self._last.retry_after = None, None
        with transport_errors(self.name, self.timeout_s, (TavilyTimeout,)):
            return self._answer(query)

    def _answer(self, query: Query) -> Any:
        """The SDK's answer, or the failure its own errors stand for (the transport's are
        :func:`transport_errors`'; ``HTTPError`` and ``JSONDecodeError`` are read here first)."""
        try:
            return self.client.search(
                query.text,
                search_depth="basic",
                topic="news" if query.kind == "news" else "general",
                start_date=query.since.isoformat(),
                end_date=query.until.isoformat(),
                max_results=max(1, min(query.limit, MAX_RESULTS)),
                timeout=self.timeout_s,
            )
        except UsageLimitExceededError as exc:
            raise self._failure(429, str(exc)) from exc
        except (ForbiddenError, InvalidAPIKeyError, BadRequestError) as exc:
            raise self._failure(400, f"{type(exc).__name__}: {exc}") from exc
        except requests.exceptions.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 500
            raise self._failure(status, str(exc)) from exc
        except requests.exceptions.JSONDecodeError as exc:  # a 200 whose body is not JSON
            raise malformed(self.name, str(exc)[:200]) from exc
        except ValueError as exc:
            raise malformed(self.name, str(exc)[:200]) from exc
        except TypeError as exc:  # the SDK's `raise response.raise_for_status()` on an odd status
            raise self._failure(502, f"unexpected answer: {exc}") from exc

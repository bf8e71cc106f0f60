"""The discovery sources the settings make usable, by name.

The keyless ones (GDELT, Hacker News, EDGAR, the job boards) are always built; Exa and Tavily only
when their key is set (``EXA_API_KEY``, ``TAVILY_API_KEY``). Each base URL comes from the
``discovery`` settings (``GTM_EXA_URL``, …), so a test or a rehearsal points a source at a twin;
the keyless sources connect through the fetcher's SSRF guard, so a twin on loopback must also be
listed in ``fetch.allow`` (and a real API name can be routed to it with ``fetch.connect_to``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from gtm_pipeline.config import Settings
from gtm_pipeline.domain.clock import Clock
from gtm_pipeline.sources.addresses import AddressPolicy
from gtm_pipeline.sources.discovery.ats import ATS, ATS_RATE_PER_S, AtsSource
from gtm_pipeline.sources.discovery.base import DiscoverySource
from gtm_pipeline.sources.discovery.edgar import EDGAR, EDGAR_RATE_PER_S, EdgarSource
from gtm_pipeline.sources.discovery.exa import EXA, EXA_RATE_PER_S, ExaSource
from gtm_pipeline.sources.discovery.gdelt import GDELT, GDELT_RATE_PER_S, GdeltSource
from gtm_pipeline.sources.discovery.hn import HN, HN_RATE_PER_S, HackerNewsSource
from gtm_pipeline.sources.discovery.http import JsonClient, user_agent
from gtm_pipeline.sources.discovery.tavily import TAVILY, TAVILY_RATE_PER_S, TavilySource

SOURCE_NAMES = (EXA, TAVILY, GDELT, HN, EDGAR, ATS)
KEYED = {EXA: "exa_api_key", TAVILY: "tavily_api_key"}
RATES: dict[str, float] = {
    EXA: EXA_RATE_PER_S,
    TAVILY: TAVILY_RATE_PER_S,
    GDELT: GDELT_RATE_PER_S,
    HN: HN_RATE_PER_S,
    EDGAR: EDGAR_RATE_PER_S,
    ATS: ATS_RATE_PER_S,
}


def contact_of(settings: Settings) -> str:
    """Who a site owner or an API operator can write to (the fetcher's contact)."""
    return settings.fetch.contact or settings.sender.privacy_contact


def source_user_agent(settings: Settings, source: str) -> str:
    """The User-Agent a source sends: the product and the contact; EDGAR's also names the company
    (the SEC asks for a name and an email)."""
    company = settings.sender.company if source == EDGAR else None
    return user_agent(contact_of(settings), company)


def missing_keys(settings: Settings) -> dict[str, str]:
    """The paid sources that are not built, and why (``no_key``)."""
    return {name: "no_key" for name, secret in KEYED.items() if not settings.secret(secret)}


@dataclass(frozen=True)
class SourceEndpoint:
    """Where one source is asked, how fast, and with which key (never printed: see ``__repr__``).

    The settings make one per source (:func:`endpoints_from_settings`); a Dagster run makes them from
    its discovery resources instead, whose keys come through ``EnvVar`` (``defs/resources.py``).
    ``base_url`` is None for the job boards, which are reached at each board's own public address.
    """

    name: str
    base_url: str | None
    rate_per_s: float
    api_key: str | None = None

    def __repr__(self) -> str:
        return f"SourceEndpoint({self.name!r}, {self.base_url!r}, rate_per_s={self.rate_per_s})"


def endpoints_from_settings(
    settings: Settings, rates: Mapping[str, float] | None = None
) -> dict[str, SourceEndpoint]:
    """Every source's endpoint as the settings describe it; ``rates`` overrides requests per second
    per source (0: unlimited, for a test against a twin). A paid source without a key has
    ``api_key`` None, and :func:`build_sources` leaves it out."""
    config = settings.model.discovery
    rate = {**RATES, **(rates or {})}
    urls: dict[str, str | None] = {
        EXA: config.exa_url,
        TAVILY: config.tavily_url,
        GDELT: config.gdelt_url,
        HN: config.hn_url,
        EDGAR: config.edgar_url,
        ATS: None,
    }
    return {
        name: SourceEndpoint(
            name, urls[name], rate[name], settings.secret(KEYED[name]) if name in KEYED else None
        )
        for name in SOURCE_NAMES
    }


def build_sources(
    settings: Settings,
    *,
    endpoints: Mapping[str, SourceEndpoint] | None = None,
    clock: Clock | None = None,
    rates: Mapping[str, float] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, DiscoverySource]:
    """Every usable source by name, from ``endpoints`` (default: the settings'). ``rates``
    overrides the settings' rates when no endpoints are given; ``clock`` lets a ``Retry-After``
    given as an HTTP date be honoured. The fetch policy, timeout and User-Agent always come from the
    settings: they protect the machine and tell an API's operator who is asking."""
    chosen = endpoints if endpoints is not None else endpoints_from_settings(settings, rates)
    timeout_s = settings.model.discovery.timeout_s
    policy = AddressPolicy.from_settings(settings.fetch.allow, settings.fetch.connect_to)

    def http(endpoint: SourceEndpoint) -> JsonClient:
        return JsonClient(
            endpoint.name,
            policy=policy,
            user_agent=source_user_agent(settings, endpoint.name),
            timeout_s=timeout_s,
            rate_per_s=endpoint.rate_per_s,
            clock=clock,
            sleep=sleep,
        )

    def url(endpoint: SourceEndpoint) -> str:
        if not endpoint.base_url:
            raise ValueError(f"discovery source {endpoint.name!r} needs a base URL")
        return endpoint.base_url

    sources: dict[str, DiscoverySource] = {}
    for name, endpoint in chosen.items():
        if name == EXA and endpoint.api_key:
            sources[EXA] = ExaSource(
                endpoint.api_key,
                base_url=url(endpoint),
                user_agent=source_user_agent(settings, EXA),
                timeout_s=timeout_s,
                rate_per_s=endpoint.rate_per_s,
                sleep=sleep,
            )
        elif name == TAVILY and endpoint.api_key:
            sources[TAVILY] = TavilySource(
                endpoint.api_key,
                base_url=url(endpoint),
                user_agent=source_user_agent(settings, TAVILY),
                timeout_s=timeout_s,
                rate_per_s=endpoint.rate_per_s,
                clock=clock,
                sleep=sleep,
            )
        elif name == GDELT:
            sources[GDELT] = GdeltSource(http(endpoint), url(endpoint))
        elif name == HN:
            sources[HN] = HackerNewsSource(http(endpoint), url(endpoint))
        elif name == EDGAR:
            sources[EDGAR] = EdgarSource(http(endpoint), url(endpoint))
        elif name == ATS:
            sources[ATS] = AtsSource(http(endpoint))
    return sources

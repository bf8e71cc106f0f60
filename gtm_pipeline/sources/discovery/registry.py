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


def build_sources(
    settings: Settings,
    *,
    clock: Clock | None = None,
    rates: Mapping[str, float] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, DiscoverySource]:
    """Every usable source by name. ``rates`` overrides requests per second per source (0: none);
    ``clock`` lets a ``Retry-After`` given as an HTTP date be honoured."""
    config = settings.model.discovery
    rate = {**RATES, **(rates or {})}
    policy = AddressPolicy.from_settings(settings.fetch.allow, settings.fetch.connect_to)

    def http(name: str) -> JsonClient:
        return JsonClient(
            name,
            policy=policy,
            user_agent=source_user_agent(settings, name),
            timeout_s=config.timeout_s,
            rate_per_s=rate[name],
            clock=clock,
            sleep=sleep,
        )

    sources: dict[str, DiscoverySource] = {}
    exa_key = settings.secret(KEYED[EXA])
    if exa_key:
        sources[EXA] = ExaSource(
            exa_key,
            base_url=config.exa_url,
            user_agent=source_user_agent(settings, EXA),
            timeout_s=config.timeout_s,
            rate_per_s=rate[EXA],
            sleep=sleep,
        )
    tavily_key = settings.secret(KEYED[TAVILY])
    if tavily_key:
        sources[TAVILY] = TavilySource(
            tavily_key,
            base_url=config.tavily_url,
            user_agent=source_user_agent(settings, TAVILY),
            timeout_s=config.timeout_s,
            rate_per_s=rate[TAVILY],
            clock=clock,
            sleep=sleep,
        )
    sources[GDELT] = GdeltSource(http(GDELT), config.gdelt_url)
    sources[HN] = HackerNewsSource(http(HN), config.hn_url)
    sources[EDGAR] = EdgarSource(http(EDGAR), config.edgar_url)
    sources[ATS] = AtsSource(http(ATS))
    return sources

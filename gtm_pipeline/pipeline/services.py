"""What the steps need, built once per process (or per Dagster resource) from the settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from gtm_pipeline.config import Settings
from gtm_pipeline.domain.clock import Clock, SystemClock
from gtm_pipeline.domain.hypothesis import Hypothesis
from gtm_pipeline.outreach.settings import SendingSettings, sending_settings
from gtm_pipeline.pipeline.conflicts import Account, load_accounts
from gtm_pipeline.pipeline.hypotheses import load_hypotheses
from gtm_pipeline.providers.base import Provider
from gtm_pipeline.providers.pricing import PriceTable
from gtm_pipeline.providers.registry import router_from_settings
from gtm_pipeline.providers.routing import ProviderRouter
from gtm_pipeline.skills.catalog import SkillCatalog, load_catalog
from gtm_pipeline.skills.runner import SkillRunner
from gtm_pipeline.sources.corpus import SampleCorpus
from gtm_pipeline.sources.discovery.base import DiscoverySource
from gtm_pipeline.sources.discovery.corpus_source import CORPUS_SOURCE, CorpusSource
from gtm_pipeline.sources.fetcher import Fetcher
from gtm_pipeline.sources.page_cache import PageCache
from gtm_pipeline.sources.web import build_fetcher, page_cache
from gtm_pipeline.store import Store

if TYPE_CHECKING:
    from gtm_pipeline.sources.discovery.registry import SourceEndpoint


@dataclass(frozen=True)
class Sender:
    """Who signs drafts and the domains drafts may link to (``[sender]`` in gtm.toml)."""

    signature: str
    domains: tuple[str, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> Sender:
        return cls(settings.sender.signature, tuple(settings.sender.domains))


@dataclass(eq=False)
class Services:
    """The store, skills, providers, corpus and hypotheses a step works with."""

    settings: Settings
    store: Store
    catalog: SkillCatalog
    corpus: SampleCorpus
    hypotheses: Mapping[str, Hypothesis]
    router: ProviderRouter
    sender: Sender
    accounts: Mapping[str, Account] = field(default_factory=dict)
    prices: PriceTable = field(default_factory=lambda: PriceTable({}))
    discovery_endpoints: Mapping[str, SourceEndpoint] | None = None

    @property
    def clock(self) -> Clock:
        """The one clock: the store's, so every step and every write read the same time."""
        return self.store.clock

    @clock.setter
    def clock(self, value: Clock) -> None:
        self.store.clock = value
        self.__dict__.pop("runner", None)

    @cached_property
    def sending(self) -> SendingSettings:
        """Sending settings (built on first use: it may create the unsubscribe key under home)."""
        return sending_settings(self.settings)

    @cached_property
    def web(self) -> Fetcher | None:
        """The web fetcher when ``fetch.enabled`` is on, else None (the demo never leaves the
        machine). Its clock is the store's, so a moved clock moves every retrieved-at stamp too."""
        if not self.settings.fetch.enabled:
            return None
        return build_fetcher(self.settings, self.store)

    @cached_property
    def discovery_sources(self) -> dict[str, DiscoverySource]:
        """Where discovery asks, by name: the sample corpus (offline), the keyless public sources,
        and the paid search APIs whose keys are set. A Dagster run passes its discovery resources'
        endpoints (``discovery_endpoints``); the CLI and the console use the settings'."""
        from gtm_pipeline.sources.discovery.feeds import FeedSource
        from gtm_pipeline.sources.discovery.registry import build_sources

        sources: dict[str, DiscoverySource] = {CORPUS_SOURCE: CorpusSource(self.corpus)}
        sources.update(build_sources(self.settings, endpoints=self.discovery_endpoints, clock=self.clock))
        if self.web is not None:  # feeds are pages: read only when fetching is on
            sources["feeds"] = FeedSource(self.web)
        return sources

    @property
    def pages(self) -> PageCache:
        """The fetcher's cached copies of pages: an erasure empties them (pipeline/privacy.py)."""
        return page_cache(self.settings)

    @property
    def providers(self) -> Mapping[str, Provider]:
        return self.router.providers

    @cached_property
    def runner(self) -> SkillRunner:
        return SkillRunner(self.store, self.router, self.prices, self.clock)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        clock: Clock | None = None,
        router: ProviderRouter | None = None,
        store: Store | None = None,
        discovery_endpoints: Mapping[str, SourceEndpoint] | None = None,
    ) -> Services:
        """Everything the settings describe; ``router`` comes from Dagster's provider resources when
        a run builds the services, else from the settings' keys."""
        paths = settings.paths
        store = store or Store.open(paths.database_url, clock=clock or SystemClock())
        router = router or router_from_settings(settings)
        if not store.read_only:
            router.share_limits(store.rate_buckets)  # one rate per provider across every process
        return cls(
            settings=settings,
            store=store,
            catalog=load_catalog(paths.skills),
            corpus=SampleCorpus(paths.corpus),
            hypotheses=load_hypotheses(paths.hypotheses),
            accounts=load_accounts(paths.accounts),
            prices=PriceTable.load(paths.prices),
            router=router,
            sender=Sender.from_settings(settings),
            discovery_endpoints=discovery_endpoints,
        )

    def close(self) -> None:
        web = self.__dict__.get("web")
        if web is not None:
            web.close()
        self.store.close()

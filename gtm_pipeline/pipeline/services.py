"""What the steps need, built once per process (or per Dagster resource)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from gtm_pipeline.config import Paths, paths
from gtm_pipeline.domain.clock import Clock, SystemClock
from gtm_pipeline.domain.hypothesis import Hypothesis
from gtm_pipeline.pipeline.conflicts import Account, load_accounts
from gtm_pipeline.pipeline.corpus import SampleCorpus
from gtm_pipeline.pipeline.hypotheses import load_hypotheses
from gtm_pipeline.providers.base import Provider
from gtm_pipeline.providers.pricing import PriceTable
from gtm_pipeline.providers.registry import build_router
from gtm_pipeline.providers.routing import ProviderRouter
from gtm_pipeline.skills.catalog import SkillCatalog, load_catalog
from gtm_pipeline.skills.runner import SkillRunner
from gtm_pipeline.store.repository import Store

DEFAULT_SIGNATURE = "Best regards,\nAlex Morgan\nNorthwind Advisory (demo sender)"
DEFAULT_DOMAINS = ("northwind-advisory.example",)


@dataclass(frozen=True)
class Sender:
    """Who signs drafts (GTM_SENDER_SIGNATURE) and the domains drafts may link to (GTM_SENDER_DOMAINS)."""

    signature: str = DEFAULT_SIGNATURE
    domains: tuple[str, ...] = DEFAULT_DOMAINS


@dataclass
class Services:
    """The store, skills, providers, corpus and hypotheses a step works with."""

    paths: Paths
    store: Store
    catalog: SkillCatalog
    corpus: SampleCorpus
    hypotheses: Mapping[str, Hypothesis]
    accounts: Mapping[str, Account] = field(default_factory=dict)
    router: ProviderRouter = field(default_factory=build_router)
    prices: PriceTable = field(default_factory=lambda: PriceTable({}))
    sender: Sender = field(default_factory=Sender)
    clock: Clock = field(default_factory=SystemClock)

    @property
    def providers(self) -> Mapping[str, Provider]:
        return self.router.providers

    @property
    def runner(self) -> SkillRunner:
        return SkillRunner(self.store, self.router, self.prices, self.clock)

    @classmethod
    def from_environment(cls, resolved: Paths | None = None) -> Services:
        p = resolved or paths()
        return cls(
            paths=p,
            store=Store.open(p.database_url),
            catalog=load_catalog(p.skills_dir),
            corpus=SampleCorpus(p.corpus_dir),
            hypotheses=load_hypotheses(p.hypotheses_dir),
            accounts=load_accounts(p.accounts_file),
            prices=PriceTable.load(p.root / "config" / "models.yaml"),
            sender=Sender(
                os.environ.get("GTM_SENDER_SIGNATURE", DEFAULT_SIGNATURE).replace("\\n", "\n"),
                tuple(
                    d.strip()
                    for d in os.environ.get("GTM_SENDER_DOMAINS", DEFAULT_DOMAINS[0]).split(",")
                    if d.strip()
                ),
            ),
        )

    def close(self) -> None:
        self.store.close()

"""Dagster resources: one per external system, configured from the workspace settings.

* ``bulk_llm`` and ``polish_llm``: the two model families, each with its endpoint and model in
  config and its key through ``EnvVar``, so the Dagster UI shows what every run used and never
  the key. No key: the family stays out of every chain (``api_key`` is unset).
* ``resend``: sending and the receiving API, key through ``EnvVar``.
* ``discovery``: where discovery asks for signals, one nested resource per source (Exa, Tavily,
  GDELT, Hacker News, EDGAR, the job boards), each with its address and its client-side rate, and
  the paid ones their key through ``EnvVar``. A paid source without a key stays out of the run.
* ``gtm``: the pipeline's own services (store, skills, corpus), built once per run process from
  the workspace and the two LLM resources it depends on. It never holds a key itself.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
from pydantic import Field, PrivateAttr

from gtm_pipeline.config import Settings, load_settings
from gtm_pipeline.config.model import BulkProvider, PolishProvider
from gtm_pipeline.outreach.resend_client import ResendClient
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.providers.registry import Connection, build_router
from gtm_pipeline.sources.discovery.registry import (
    KEYED,
    SOURCE_NAMES,
    SourceEndpoint,
    endpoints_from_settings,
)

_SECRET: dict[str, Any] = {"dagster__is_secret": True}  # the UI masks it


class BulkLLMResource(dg.ConfigurableResource):
    """The bulk family: an OpenAI-compatible endpoint (NVIDIA's API catalog, vLLM, Ollama)."""

    base_url: str
    model: str
    reasoning: bool = False
    timeout_s: float = 60.0
    rps: float = 0.0
    api_key: str | None = Field(default=None, json_schema_extra=_SECRET)

    def connection(self) -> Connection | None:
        if not self.api_key:
            return None
        settings = BulkProvider(
            base_url=self.base_url,
            model=self.model,
            reasoning=self.reasoning,
            timeout_s=self.timeout_s,
            rps=self.rps,
        )
        return Connection("bulk", settings, self.api_key)


class PolishLLMResource(dg.ConfigurableResource):
    """The polish family: Claude through the anthropic SDK."""

    base_url: str | None = None
    model: str
    timeout_s: float = 60.0
    rps: float = 0.0
    api_key: str | None = Field(default=None, json_schema_extra=_SECRET)

    def connection(self) -> Connection | None:
        if not self.api_key:
            return None
        settings = PolishProvider(
            base_url=self.base_url, model=self.model, timeout_s=self.timeout_s, rps=self.rps
        )
        return Connection("polish", settings, self.api_key)


class ResendResource(dg.ConfigurableResource):
    """Resend: sending and the receiving API. Without a key, sending stays off."""

    api_url: str
    api_key: str | None = Field(default=None, json_schema_extra=_SECRET)

    def client(self) -> ResendClient:
        """The client (``SendingNotConfiguredError`` when no key is set)."""
        return ResendClient.connect(self.api_key, self.api_url)


class DiscoverySourceResource(dg.ConfigurableResource):
    """One discovery source: its API's address, requests per second at most, and its key if paid."""

    base_url: str | None = Field(default=None, description="None: the job boards' own addresses.")
    rate_per_s: float = Field(description="Client-side requests per second at most (0: none).")
    api_key: str | None = Field(default=None, json_schema_extra=_SECRET)

    def endpoint(self, name: str) -> SourceEndpoint:
        return SourceEndpoint(name, self.base_url, self.rate_per_s, self.api_key)


class DiscoveryResource(dg.ConfigurableResource):
    """Where discovery asks for behavioural signals, one source per field."""

    exa: DiscoverySourceResource
    tavily: DiscoverySourceResource
    gdelt: DiscoverySourceResource
    hn: DiscoverySourceResource
    edgar: DiscoverySourceResource
    ats: DiscoverySourceResource

    def endpoints(self) -> dict[str, SourceEndpoint]:
        """Every source's endpoint; a paid one without its key is left out when sources are built."""
        return {name: getattr(self, name).endpoint(name) for name in SOURCE_NAMES}


class GtmResource(dg.ConfigurableResource):
    """The pipeline's services for assets, sensors and schedules."""

    workspace: str | None = Field(default=None, description="The workspace folder (none: demo defaults).")
    offline: bool = Field(
        default=True, description="The offline provider answers where no live family is configured."
    )
    offline_fallback: bool = Field(
        default=False, description="The offline provider may stand in for a failing live one."
    )
    bulk_llm: BulkLLMResource
    polish_llm: PolishLLMResource
    discovery: DiscoveryResource

    _services: Services | None = PrivateAttr(default=None)

    @property
    def services(self) -> Services:
        if self._services is None:
            router = build_router(
                self.bulk_llm.connection(),
                self.polish_llm.connection(),
                offline=self.offline,
                offline_fallback=self.offline_fallback,
            )
            self._services = Services.from_settings(
                load_settings(self.workspace),
                router=router,
                discovery_endpoints=self.discovery.endpoints(),
            )
        return self._services

    def teardown_after_execution(self, context: Any) -> None:
        if self._services is not None:
            self._services.close()
            self._services = None


def _key(settings: Settings, name: str) -> Any:
    """The key as an ``EnvVar`` reference (what the UI shows), or None when it is not set."""
    env_name = settings.secret_env_name(name)
    return dg.EnvVar(env_name) if env_name and settings.secret(name) else None


def llm_resources(settings: Settings) -> tuple[BulkLLMResource, PolishLLMResource]:
    """The two model families as configured, keys as ``EnvVar`` references."""
    settings.export_secrets()
    bulk, polish = settings.providers.bulk, settings.providers.polish
    bulk_llm = BulkLLMResource(
        base_url=bulk.base_url,
        model=bulk.model,
        reasoning=bulk.reasoning,
        timeout_s=bulk.timeout_s,
        rps=bulk.rps,
        api_key=_key(settings, "bulk_api_key"),
    )
    polish_llm = PolishLLMResource(
        base_url=polish.base_url,
        model=polish.model,
        timeout_s=polish.timeout_s,
        rps=polish.rps,
        api_key=_key(settings, "anthropic_api_key"),
    )
    return bulk_llm, polish_llm


def discovery_resource(settings: Settings) -> DiscoveryResource:
    """Every discovery source as configured; the paid ones' keys as ``EnvVar`` references (the
    endpoints' own keys are dropped: the run reads them from the environment, the UI never sees
    them). A paid source without a key still appears, keyless, so the UI shows it is off."""
    settings.export_secrets()
    fields = {
        name: DiscoverySourceResource(
            base_url=endpoint.base_url,
            rate_per_s=endpoint.rate_per_s,
            api_key=_key(settings, KEYED[name]) if name in KEYED else None,
        )
        for name, endpoint in endpoints_from_settings(settings).items()
    }
    return DiscoveryResource(**fields)


def gtm_resource(settings: Settings | None = None, cls: type[GtmResource] = GtmResource) -> GtmResource:
    """The pipeline resource for ``settings`` (default: this process's), e.g. for a test's run."""
    settings = settings or load_settings()
    bulk_llm, polish_llm = llm_resources(settings)
    return cls(
        workspace=str(settings.workspace) if settings.workspace else None,
        offline=settings.providers.offline,
        offline_fallback=settings.providers.offline_fallback,
        bulk_llm=bulk_llm,
        polish_llm=polish_llm,
        discovery=discovery_resource(settings),
    )


def resend_resource(settings: Settings | None = None) -> ResendResource:
    settings = settings or load_settings()
    settings.export_secrets()
    return ResendResource(api_url=settings.sending.resend_api_url, api_key=_key(settings, "resend_api_key"))


def resources_for(settings: Settings) -> dict[str, Any]:
    """Every resource of the code location, configured from ``settings``."""
    gtm = gtm_resource(settings)
    return {
        "gtm": gtm,
        "bulk_llm": gtm.bulk_llm,
        "polish_llm": gtm.polish_llm,
        "discovery": gtm.discovery,
        "resend": resend_resource(settings),
    }

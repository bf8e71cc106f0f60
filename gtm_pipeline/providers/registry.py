"""Which providers are configured, and the router over them.

This module and the provider classes are the only product code that handles an API key: the
key arrives either from the settings' secrets (the CLI, the console) or from a Dagster provider
resource (``EnvVar``), and goes straight into the SDK client. A family is configured when its
key is set. The offline provider answers a chain only where no live family is configured (the
demo, a machine with no keys) and never stands in for a failing live one unless
``providers.offline_fallback`` is on; ``providers.offline`` false removes it entirely.
"""

from __future__ import annotations

from dataclasses import dataclass

from gtm_pipeline.config import Settings
from gtm_pipeline.config.model import BulkProvider, PolishProvider
from gtm_pipeline.providers.base import Provider
from gtm_pipeline.providers.offline import OfflineProvider
from gtm_pipeline.providers.routing import ProviderRouter


@dataclass(frozen=True)
class Connection:
    """One family's endpoint settings and its key (never printed: see ``__repr__``)."""

    family: str
    settings: BulkProvider | PolishProvider
    api_key: str

    def __repr__(self) -> str:
        return f"Connection({self.family!r}, model={self.settings.model!r})"


def _bulk(connection: Connection) -> Provider:
    # SDKs are imported only when their provider is configured: the embedded default stays light.
    from gtm_pipeline.providers.openai_compat import OpenAICompatibleConfig, OpenAICompatibleProvider

    settings = connection.settings
    assert isinstance(settings, BulkProvider)
    config = OpenAICompatibleConfig(
        base_url=settings.base_url,
        model=settings.model,
        reasoning=settings.reasoning,
        timeout_s=settings.timeout_s,
    )
    return OpenAICompatibleProvider("bulk", config, api_key=connection.api_key)


def _polish(connection: Connection) -> Provider:
    from gtm_pipeline.providers.anthropic_provider import AnthropicConfig, AnthropicProvider

    settings = connection.settings
    assert isinstance(settings, PolishProvider)
    config = AnthropicConfig(
        base_url=settings.base_url,
        model=settings.model,
        timeout_s=settings.timeout_s,
        cache_ttl=settings.cache_ttl,
    )
    return AnthropicProvider("polish", config, api_key=connection.api_key)


def build_router(
    *connections: Connection | None, offline: bool = True, offline_fallback: bool = False
) -> ProviderRouter:
    """The router over the families that have a key, with their client-side rate limits. The
    offline provider closes a chain only where no live family is configured, unless
    ``offline_fallback`` lets it stand in for a failing one."""
    providers: dict[str, Provider] = {}
    rates: dict[str, float] = {}
    for connection in connections:
        if connection is None:
            continue
        providers[connection.family] = (_bulk if connection.family == "bulk" else _polish)(connection)
        if connection.settings.rps > 0:
            rates[connection.family] = connection.settings.rps
    if offline:
        providers["offline"] = OfflineProvider()
    return ProviderRouter(providers, rate_limits=rates, offline_fallback=offline_fallback)


def connections_from_settings(settings: Settings) -> tuple[Connection | None, Connection | None]:
    """The bulk and polish connections the settings' keys allow (``None`` where no key is set)."""
    bulk_key, polish_key = settings.secret("bulk_api_key"), settings.secret("anthropic_api_key")
    return (
        Connection("bulk", settings.providers.bulk, bulk_key) if bulk_key else None,
        Connection("polish", settings.providers.polish, polish_key) if polish_key else None,
    )


def router_from_settings(settings: Settings) -> ProviderRouter:
    return build_router(
        *connections_from_settings(settings),
        offline=settings.providers.offline,
        offline_fallback=settings.providers.offline_fallback,
    )

"""Which providers are configured here, built from the environment.

This module and the provider classes are the only code that reads an API key. A provider
is configured when its key is set; the offline provider is always there unless
``GTM_OFFLINE=off`` (production groups that must never fall back to extractive output).

bulk (OpenAI-compatible; NVIDIA's API catalog by default):
  GTM_BULK_API_KEY (or NVIDIA_API_KEY)    enables it; for vLLM/Ollama any non-empty string
  GTM_BULK_BASE_URL                       default https://integrate.api.nvidia.com/v1
  GTM_BULK_MODEL                          default nvidia/nemotron-3-super-120b-a12b
  GTM_BULK_REASONING                      on|off (Nemotron's enable_thinking), default off
  GTM_BULK_TIMEOUT, GTM_BULK_RPS          seconds; requests per second (client-side limit)
polish (Anthropic):
  ANTHROPIC_API_KEY                       enables it
  GTM_POLISH_MODEL                        default claude-sonnet-4-6
  GTM_POLISH_BASE_URL                     default the SDK's (ANTHROPIC_BASE_URL also works)
  GTM_POLISH_TIMEOUT, GTM_POLISH_RPS
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from gtm_pipeline.providers.base import Provider
from gtm_pipeline.providers.offline import OfflineProvider
from gtm_pipeline.providers.routing import ProviderRouter


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "on", "yes")


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    return float(raw) if raw else default


def configured_providers(env: Mapping[str, str] | None = None) -> dict[str, Provider]:
    """The providers whose keys are present in ``env`` (default: the process environment)."""
    env = os.environ if env is None else env
    providers: dict[str, Provider] = {}
    bulk_key = env.get("GTM_BULK_API_KEY") or env.get("NVIDIA_API_KEY")
    if bulk_key:
        # SDKs are imported only when their provider is configured: the embedded default stays light.
        from gtm_pipeline.providers.openai_compat import (
            NEMOTRON,
            NVIDIA_BASE_URL,
            OpenAICompatibleConfig,
            OpenAICompatibleProvider,
        )

        providers["bulk"] = OpenAICompatibleProvider(
            "bulk",
            OpenAICompatibleConfig(
                base_url=env.get("GTM_BULK_BASE_URL") or NVIDIA_BASE_URL,
                model=env.get("GTM_BULK_MODEL") or NEMOTRON,
                reasoning=_flag(env.get("GTM_BULK_REASONING")),
                timeout_s=_float(env, "GTM_BULK_TIMEOUT", 60.0),
            ),
            api_key=bulk_key,
        )
    polish_key = env.get("ANTHROPIC_API_KEY")
    if polish_key:
        from gtm_pipeline.providers.anthropic_provider import (
            DEFAULT_MODEL,
            AnthropicConfig,
            AnthropicProvider,
        )

        providers["polish"] = AnthropicProvider(
            "polish",
            AnthropicConfig(
                base_url=env.get("GTM_POLISH_BASE_URL") or env.get("ANTHROPIC_BASE_URL"),
                model=env.get("GTM_POLISH_MODEL") or DEFAULT_MODEL,
                timeout_s=_float(env, "GTM_POLISH_TIMEOUT", 60.0),
            ),
            api_key=polish_key,
        )
    if (env.get("GTM_OFFLINE") or "on").lower() != "off":
        providers["offline"] = OfflineProvider()
    return providers


def build_router(env: Mapping[str, str] | None = None) -> ProviderRouter:
    """The process's router over the configured providers, with their client-side rate limits."""
    env = os.environ if env is None else env
    rates = {name: _float(env, f"GTM_{name.upper()}_RPS", 0.0) for name in ("bulk", "polish")}
    return ProviderRouter(configured_providers(env), rate_limits={k: v for k, v in rates.items() if v > 0})

"""The provider interface every backend implements, and provider routing per group."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from gtm_pipeline.domain.contracts import Usage
from gtm_pipeline.domain.sources import SourceDoc


@dataclass(frozen=True)
class SkillRequest:
    """Everything a provider needs for one skill call. No API key ever travels here."""

    skill: str
    skill_version: str
    instructions: str
    voice: str
    output_contract: str
    output_schema: dict[str, Any]
    inputs: dict[str, Any]
    sources: list[SourceDoc] = field(default_factory=list)


@dataclass(frozen=True)
class ProviderReply:
    """The raw text a provider produced, validated by the runner, never trusted as is."""

    text: str
    provider: str
    model: str
    usage: Usage


class ProviderError(RuntimeError):
    """A provider call that failed (network, rate limit, refusal)."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class Provider(Protocol):
    """One backend (a family's configured endpoint)."""

    name: str
    model: str

    def complete(self, request: SkillRequest) -> ProviderReply: ...


class NoProviderError(LookupError):
    """No provider of a group's chain is configured."""


@dataclass(frozen=True)
class ProviderRouter:
    """Picks a provider for a group's ordered chain among those configured here."""

    providers: Mapping[str, Provider]

    def chain(self, names: list[str]) -> list[Provider]:
        """The configured providers of ``names``, in order."""
        return [self.providers[name] for name in names if name in self.providers]

    def first(self, names: list[str]) -> Provider:
        chain = self.chain(names)
        if not chain:
            raise NoProviderError(f"none of {names} is configured (configured: {sorted(self.providers)})")
        return chain[0]

"""The provider interface every backend implements, and provider routing per group."""

from __future__ import annotations

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
    """A provider call that failed. The message never carries a key, a prompt or a response body.

    ``kind`` is one of: rate_limit, overloaded, server_error, timeout, connection, auth,
    bad_request, bad_output. Routing waits on ``rate_limit`` and fails over on every other kind;
    ``retry_after`` is the server's hint for a rate limit.
    """

    def __init__(
        self, message: str, *, retryable: bool, kind: str = "server_error", retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.kind = kind
        self.retry_after = retry_after


class Provider(Protocol):
    """One backend (a family's configured endpoint)."""

    name: str
    model: str

    def complete(self, request: SkillRequest) -> ProviderReply: ...

"""The offline provider: deterministic, extractive, no network, no keys.

It makes the whole pipeline run on the embedded default. It is a real provider behind
the same interface as the LLM providers: it receives the same request, returns raw JSON
text that the runner validates like any model output, and it is honest about itself:
every claim is a verbatim sentence from a fetched source, its rationale says that no
model judged anything, and its confidence stays low (at most 0.55). When the sources
give it nothing to quote it says so, and the contract then sends the call to the
dead-letter queue instead of letting an unsupported result through.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from gtm_pipeline.domain.contracts import Usage
from gtm_pipeline.providers.base import ProviderReply, SkillRequest
from gtm_pipeline.providers.offline import research, triage, writing
from gtm_pipeline.providers.offline.common import MAX_CONFIDENCE, MODEL, estimate_tokens
from gtm_pipeline.providers.prompt import system_prompt, user_prompt

__all__ = ["MAX_CONFIDENCE", "MODEL", "OfflineProvider"]

# One method per output contract, each in the module of its skill family.
METHODS: dict[str, Callable[[SkillRequest], dict[str, Any]]] = {
    "DiscoveryFinding": research.discover,
    "ProfileFinding": research.profile,
    "DraftFinding": writing.draft,
    "ContextPackFinding": writing.context_pack,
    "ReplyClassificationFinding": triage.classify,
}


class OfflineProvider:
    """Deterministic extractive provider (the embedded default)."""

    name = "offline"
    model = MODEL

    def complete(self, request: SkillRequest) -> ProviderReply:
        method = METHODS.get(request.output_contract)
        if method is None:
            raise NotImplementedError(f"offline provider has no method for {request.output_contract}")
        text = json.dumps(method(request), default=str, sort_keys=True)
        prompt = system_prompt(request) + user_prompt(request)
        usage = Usage(
            input_tokens=estimate_tokens(prompt), output_tokens=estimate_tokens(text), estimated=True
        )
        return ProviderReply(text=text, provider=self.name, model=self.model, usage=usage)

"""The polish family: Claude through the official ``anthropic`` SDK.

Structured output is forced tool use (one tool whose input schema is the contract), which
every current Claude model supports. The stable instruction prefix (skill instructions,
group voice, the untrusted-data rule, the contract) is the system prompt, marked for
prompt caching; everything per prospect comes after it, in the user turn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

import anthropic
from anthropic.types import Message

from gtm_pipeline.config.model import CLAUDE
from gtm_pipeline.domain.contracts import Usage
from gtm_pipeline.providers.base import ProviderError, ProviderReply, SkillRequest
from gtm_pipeline.providers.errors import classify
from gtm_pipeline.providers.prompt import system_prompt, user_prompt


@dataclass(frozen=True)
class AnthropicConfig:
    base_url: str | None = None
    model: str = CLAUDE
    timeout_s: float = 60.0
    max_tokens: int = 4096
    # How long the cached prefix lives after its last use: "1h" (writes cost 2x input instead of
    # 1.25x) keeps it across a backfill whose calls are more than 5 minutes apart.
    cache_ttl: Literal["5m", "1h"] = "5m"


def message_params(request: SkillRequest, config: AnthropicConfig) -> dict[str, Any]:
    """The Messages API parameters for one skill call: the same for a direct call and a batch item.

    Cache order is tools, then system, then messages. The tool (its schema is the contract) and the
    system prompt (instructions, voice, the untrusted-data rule, the contract) are the same for
    every call of a skill, so the breakpoint on the system block caches both; the prospect's inputs
    and sources come after it, in the user turn, and never break the prefix."""
    cache_control: dict[str, str] = {"type": "ephemeral"}
    if config.cache_ttl != "5m":
        cache_control["ttl"] = config.cache_ttl
    return {
        "model": config.model,
        "max_tokens": config.max_tokens,
        "system": [{"type": "text", "text": system_prompt(request), "cache_control": cache_control}],
        "messages": [{"role": "user", "content": user_prompt(request)}],
        "tools": [
            {
                "name": request.output_contract,
                "description": "Record the skill result. Call it exactly once.",
                "input_schema": request.output_schema,
            }
        ],
        "tool_choice": {"type": "tool", "name": request.output_contract},
    }


def reply_from_message(name: str, model: str, message: Message) -> ProviderReply:
    """A provider reply from a Message (a direct answer or a batch result): the tool input as JSON,
    usage with the uncached input, cache reads and cache writes apart, as Anthropic bills them."""
    if message.stop_reason == "max_tokens":
        raise ProviderError(f"{name}: output truncated (max_tokens)", retryable=True, kind="bad_output")
    tool_input = next((b.input for b in message.content if b.type == "tool_use"), None)
    if tool_input is None:
        # A text answer instead of the tool call: hand it on raw; the contract decides.
        text = "".join(getattr(b, "text", "") for b in message.content)
    else:
        text = json.dumps(tool_input)
    usage = message.usage
    return ProviderReply(
        text=text,
        provider=name,
        model=message.model or model,
        usage=Usage(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_input_tokens or 0,
            cache_write_tokens=usage.cache_creation_input_tokens or 0,
        ),
    )


class AnthropicProvider:
    """A provider for the Anthropic Messages API."""

    def __init__(self, name: str, config: AnthropicConfig, api_key: str) -> None:
        self.name = name
        self.model = config.model
        self.config = config
        self._client = anthropic.Anthropic(
            api_key=api_key, base_url=config.base_url, max_retries=0, timeout=config.timeout_s
        )

    def __repr__(self) -> str:
        return f"AnthropicProvider({self.name!r}, model={self.model!r})"

    def complete(self, request: SkillRequest) -> ProviderReply:
        try:
            message = self._client.messages.create(**message_params(request, self.config))
        except anthropic.AnthropicError as exc:
            raise classify(self.name, exc) from None
        return reply_from_message(self.name, self.model, message)

"""The bulk family: any OpenAI-compatible Chat Completions endpoint through the official ``openai`` SDK.

NVIDIA's API catalog (Nemotron 3 Super), vLLM and Ollama all speak it. Structured output
uses ``response_format`` json_schema, which those servers enforce; the runner validates
with pydantic on read whatever the server did. The SDK's own retries are off: routing
decides what happens after a failure, and every attempt is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import openai
from openai.types.chat import ChatCompletion
from openai.types.shared_params import ResponseFormatJSONSchema

from gtm_pipeline.config.model import NEMOTRON, NVIDIA_BASE_URL
from gtm_pipeline.domain.contracts import Usage
from gtm_pipeline.providers.base import ProviderError, ProviderReply, SkillRequest
from gtm_pipeline.providers.errors import classify
from gtm_pipeline.providers.prompt import system_prompt, user_prompt


@dataclass(frozen=True)
class OpenAICompatibleConfig:
    """Non-secret settings (the key is passed separately and never stored here)."""

    base_url: str = NVIDIA_BASE_URL
    model: str = NEMOTRON
    reasoning: bool = False  # Nemotron's switch: chat_template_kwargs.enable_thinking
    timeout_s: float = 60.0
    max_tokens: int = 4096
    temperature: float | None = None


class OpenAICompatibleProvider:
    """A provider for one OpenAI-compatible endpoint."""

    def __init__(self, name: str, config: OpenAICompatibleConfig, api_key: str) -> None:
        self.name = name
        self.model = config.model
        self.config = config
        self._client = openai.OpenAI(
            api_key=api_key, base_url=config.base_url, max_retries=0, timeout=config.timeout_s
        )

    def __repr__(self) -> str:  # never show the client (it holds the key)
        return f"OpenAICompatibleProvider({self.name!r}, model={self.model!r})"

    def complete(self, request: SkillRequest) -> ProviderReply:
        params = completion_params(request, self.config)
        extra_body = {"chat_template_kwargs": params.pop("chat_template_kwargs")}  # not an SDK argument
        try:
            completion = self._client.chat.completions.create(**params, extra_body=extra_body)
        except openai.OpenAIError as exc:
            raise classify(self.name, exc) from None
        return reply_from_completion(self.name, self.model, completion)


def completion_params(request: SkillRequest, config: OpenAICompatibleConfig) -> dict[str, Any]:
    """The Chat Completions request body for one skill call: the same for a direct call and a batch line.

    The system message (instructions, voice, the untrusted-data rule, the contract) is the same for
    every call of a skill and comes first, so a host with automatic prefix caching can reuse it."""
    response_format: ResponseFormatJSONSchema = {
        "type": "json_schema",
        "json_schema": {"name": request.output_contract, "schema": request.output_schema, "strict": False},
    }
    params: dict[str, Any] = {
        "model": config.model,
        "messages": [
            {"role": "system", "content": system_prompt(request)},
            {"role": "user", "content": user_prompt(request)},
        ],
        "response_format": response_format,
        "max_tokens": config.max_tokens,
        # Nemotron's switch; a host that does not know it ignores it
        "chat_template_kwargs": {"enable_thinking": config.reasoning},
    }
    if config.temperature is not None:
        params["temperature"] = config.temperature
    return params


def reply_from_completion(name: str, model: str, completion: ChatCompletion) -> ProviderReply:
    """A provider reply from a chat completion (a direct answer or a batch output line). OpenAI's
    ``prompt_tokens`` includes the cached ones; they are moved to ``cache_read_tokens`` so that
    ``input_tokens`` means the uncached input, as Anthropic's does."""
    choice = completion.choices[0]
    text = choice.message.content or ""
    if choice.finish_reason == "length":
        raise ProviderError(f"{name}: output truncated (max_tokens)", retryable=True, kind="bad_output")
    usage = completion.usage
    cached = 0
    if usage is not None and usage.prompt_tokens_details is not None:
        cached = usage.prompt_tokens_details.cached_tokens or 0
    return ProviderReply(
        text=text,
        provider=name,
        model=completion.model or model,
        usage=Usage(
            input_tokens=(usage.prompt_tokens - cached) if usage else 0,
            output_tokens=usage.completion_tokens if usage else 0,
            cache_read_tokens=cached,
        ),
    )

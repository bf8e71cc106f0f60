"""Batch APIs for skill calls that can wait (re-scores): submit, poll, collect, at the batch discount.

Anthropic's Message Batches cost half the list price and finish within 24 hours (most within one);
an OpenAI-compatible host may offer OpenAI's Batch API (a JSONL file of requests, ``/v1/batches``),
where vLLM, Ollama and NVIDIA's hosted catalog offer none: submitting there raises
:class:`BatchUnsupported`, so a caller falls back to direct calls and says so, never silently.

A batch item is built by the same function as a direct call of its provider (same prompt, same
cache breakpoint, same structured-output switch), and every result is validated on read by the
runner's own checks (JSON, the pydantic contract, the evidence check) before anything uses it.
Results arrive in any order: they are matched on ``custom_id``, which must be opaque (an id or a
hash, never a name or an address) because it travels to the provider.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import anthropic
import openai
from openai.types.chat import ChatCompletion

from gtm_pipeline.domain.contracts import DeadLetterReason, SkillOutput
from gtm_pipeline.domain.sources import SourceDoc
from gtm_pipeline.providers.anthropic_provider import (
    AnthropicConfig,
    AnthropicProvider,
    message_params,
    reply_from_message,
)
from gtm_pipeline.providers.base import Provider, ProviderError, ProviderReply, SkillRequest
from gtm_pipeline.providers.errors import classify
from gtm_pipeline.providers.openai_compat import (
    OpenAICompatibleConfig,
    OpenAICompatibleProvider,
    completion_params,
    reply_from_completion,
)
from gtm_pipeline.providers.pricing import PriceTable

# The runner's on-read checks for one reply (JSON, the skill's pydantic contract, the evidence check
# against the request's sources): ``(output, None)`` or ``(None, why)``. Providers sit below skills,
# so the skills layer hands its own check in (``skills.runner``'s parse of a reply).
Validate = Callable[[SkillRequest, ProviderReply], tuple[SkillOutput[Any] | None, DeadLetterReason | None]]


class BatchUnsupported(ProviderError):
    """The host has no batch API (a 404 on its batch routes)."""

    def __init__(self, provider: str) -> None:
        super().__init__(f"{provider}: the host offers no batch API", retryable=False, kind="bad_request")


@dataclass(frozen=True)
class BatchCall:
    """One skill call in a batch (its request as ``skills.runner.build_request`` makes it for a
    direct call). ``custom_id`` is opaque and unique within the batch."""

    custom_id: str
    request: SkillRequest


@dataclass(frozen=True)
class BatchStatus:
    batch_id: str
    ended: bool
    counts: dict[str, int]


@dataclass(frozen=True)
class BatchOutcome:
    """A batch item's validated output, or why it has none (to dead-letter or to call again)."""

    custom_id: str
    output: SkillOutput[Any] | None
    failure: DeadLetterReason | None
    reply: ProviderReply | None
    cost_usd: float


class BatchBackend(Protocol):
    name: str
    model: str

    def submit(self, calls: Sequence[BatchCall]) -> str: ...

    def poll(self, batch_id: str) -> BatchStatus: ...

    def results(self, batch_id: str) -> dict[str, ProviderReply | ProviderError]: ...

    def discard(self, batch_id: str) -> None: ...


def _unique(calls: Sequence[BatchCall]) -> None:
    ids = [c.custom_id for c in calls]
    if not ids or len(set(ids)) != len(ids):
        raise ValueError("a batch needs at least one call and unique custom_ids")


class AnthropicBatches:
    """Message Batches through the official SDK (``client.messages.batches``)."""

    def __init__(self, name: str, config: AnthropicConfig, api_key: str) -> None:
        self.name, self.model, self.config = name, config.model, config
        self._client = anthropic.Anthropic(
            api_key=api_key, base_url=config.base_url, max_retries=2, timeout=config.timeout_s
        )

    def __repr__(self) -> str:
        return f"AnthropicBatches({self.name!r}, model={self.model!r})"

    def submit(self, calls: Sequence[BatchCall]) -> str:
        _unique(calls)
        requests: list[Any] = [
            {
                "custom_id": c.custom_id,
                "params": message_params(c.request, self.config),
            }
            for c in calls
        ]
        try:
            # No SDK retry: a create whose answer was lost and is sent again makes a second batch,
            # paid twice and holding the prompts at Anthropic; the caller holds such calls instead.
            return self._client.with_options(max_retries=0).messages.batches.create(requests=requests).id
        except anthropic.AnthropicError as exc:
            raise classify(self.name, exc) from None

    def poll(self, batch_id: str) -> BatchStatus:
        try:
            batch = self._client.messages.batches.retrieve(batch_id)
        except anthropic.AnthropicError as exc:
            raise classify(self.name, exc) from None
        return BatchStatus(batch_id, batch.processing_status == "ended", batch.request_counts.model_dump())

    def results(self, batch_id: str) -> dict[str, ProviderReply | ProviderError]:
        found: dict[str, ProviderReply | ProviderError] = {}
        try:
            for line in self._client.messages.batches.results(batch_id):
                result = line.result
                if result.type == "succeeded":
                    try:
                        found[line.custom_id] = reply_from_message(self.name, self.model, result.message)
                    except ProviderError as exc:  # truncated: the same kind as a direct call's
                        found[line.custom_id] = exc
                else:
                    found[line.custom_id] = ProviderError(
                        f"{self.name}: batch item {result.type}", retryable=True, kind="server_error"
                    )
        except anthropic.AnthropicError as exc:
            raise classify(self.name, exc) from None
        return found

    def discard(self, batch_id: str) -> None:
        """Delete an ended batch and its results at Anthropic once collected: they quote the
        prompts' sources and contacts, and would otherwise stay there for 29 days."""
        try:
            self._client.messages.batches.delete(batch_id)
        except anthropic.AnthropicError as exc:
            raise classify(self.name, exc) from None


class OpenAIBatches:
    """OpenAI's Batch API through the official SDK: a JSONL upload, ``batches.create``, output files."""

    def __init__(self, name: str, config: OpenAICompatibleConfig, api_key: str) -> None:
        self.name, self.model, self.config = name, config.model, config
        self._client = openai.OpenAI(
            api_key=api_key, base_url=config.base_url, max_retries=2, timeout=config.timeout_s
        )

    def __repr__(self) -> str:
        return f"OpenAIBatches({self.name!r}, model={self.model!r})"

    def submit(self, calls: Sequence[BatchCall]) -> str:
        _unique(calls)
        lines = [
            {
                "custom_id": c.custom_id,
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": completion_params(c.request, self.config),
            }
            for c in calls
        ]
        payload = "".join(json.dumps(line) + "\n" for line in lines).encode()
        try:
            # The upload alone creates nothing to pay for: retried as usual.
            uploaded = self._client.files.create(file=("batch.jsonl", io.BytesIO(payload)), purpose="batch")
        except openai.NotFoundError:
            raise BatchUnsupported(self.name) from None
        except openai.OpenAIError as exc:
            raise classify(self.name, exc) from None
        try:
            # No SDK retry on the create (see AnthropicBatches.submit): one batch per submission.
            batch = self._client.with_options(max_retries=0).batches.create(
                input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
            )
        except openai.OpenAIError as exc:
            deleted = self._delete_input(uploaded.id)
            if isinstance(exc, openai.NotFoundError) and deleted:
                raise BatchUnsupported(self.name) from None
            error = classify(self.name, exc)
            if not deleted:  # said in the error the caller escalates: never left there silently
                error = ProviderError(
                    f"{error}; its uploaded input file {uploaded.id} could not be deleted at the host",
                    retryable=error.retryable,
                    kind=error.kind,
                )
            raise error from None
        return batch.id

    def _delete_input(self, file_id: str) -> bool:
        """A failed create leaves the uploaded prompts (sources, contacts) at the host: deleted.
        False: the delete failed too (the caller's error says so)."""
        try:
            self._client.files.delete(file_id)
        except openai.OpenAIError:
            return False
        return True

    def poll(self, batch_id: str) -> BatchStatus:
        try:
            batch = self._client.batches.retrieve(batch_id)
        except openai.OpenAIError as exc:
            raise classify(self.name, exc) from None
        ended = batch.status in ("completed", "failed", "expired", "cancelled")
        counts = batch.request_counts.model_dump() if batch.request_counts else {}
        return BatchStatus(batch_id, ended, counts)

    def results(self, batch_id: str) -> dict[str, ProviderReply | ProviderError]:
        found: dict[str, ProviderReply | ProviderError] = {}
        try:
            batch = self._client.batches.retrieve(batch_id)
            files = [f for f in (batch.output_file_id, batch.error_file_id) if f]
            texts = [self._client.files.content(f).text for f in files]
        except openai.OpenAIError as exc:
            raise classify(self.name, exc) from None
        for text in texts:
            for raw in text.splitlines():
                if not raw.strip():
                    continue
                line = json.loads(raw)
                response = line.get("response") or {}
                if line.get("error") or response.get("status_code") != 200:
                    found[line["custom_id"]] = ProviderError(
                        f"{self.name}: batch item failed", retryable=True, kind="server_error"
                    )
                    continue
                try:
                    completion = ChatCompletion.model_validate(response["body"])
                    found[line["custom_id"]] = reply_from_completion(self.name, self.model, completion)
                except ProviderError as exc:
                    found[line["custom_id"]] = exc
        return found

    def discard(self, batch_id: str) -> None:
        """Delete a collected batch's input, output and error files at the host (they quote the
        prompts' sources and contacts); the batch record itself holds only ids and counts."""
        try:
            batch = self._client.batches.retrieve(batch_id)
            for file_id in (batch.input_file_id, batch.output_file_id, batch.error_file_id):
                if file_id:
                    self._client.files.delete(file_id)
        except openai.OpenAIError as exc:
            raise classify(self.name, exc) from None


def collect(
    backend: BatchBackend,
    batch_id: str,
    calls: Sequence[BatchCall],
    prices: PriceTable,
    validate: Validate,
) -> list[BatchOutcome]:
    """Each call's validated output or its failure, priced at the batch discount. A call with no
    result line (the batch expired first) fails as a provider error: nothing is dropped."""
    replies = backend.results(batch_id)
    outcomes = []
    for call in calls:
        reply = replies.get(call.custom_id)
        if reply is None or isinstance(reply, ProviderError):
            detail = str(reply) if reply is not None else f"{backend.name}: no result for this batch item"
            failed = DeadLetterReason(kind="provider_error", detail=detail)
            outcomes.append(BatchOutcome(call.custom_id, None, failed, None, 0.0))
            continue
        output, failure = validate(call.request, reply)
        cost = prices.cost(reply.model, reply.usage, batch=True)
        outcomes.append(BatchOutcome(call.custom_id, output, failure, reply, cost))
    return outcomes


def supports_batches(provider: Provider) -> bool:
    """Whether :func:`batch_backend` has a batch API to build beside ``provider``."""
    return isinstance(provider, (AnthropicProvider, OpenAICompatibleProvider))


def batch_backend(provider: Provider) -> BatchBackend | None:
    """The batch API beside a configured direct provider (same endpoint, model and key), or None
    where the provider has none to offer (the offline provider answers locally, for nothing).
    An OpenAI-compatible host may still lack one: that shows at submission (:class:`BatchUnsupported`)."""
    if isinstance(provider, AnthropicProvider):
        return AnthropicBatches(provider.name, provider.config, api_key=provider._client.api_key or "")
    if isinstance(provider, OpenAICompatibleProvider):
        return OpenAIBatches(provider.name, provider.config, api_key=provider._client.api_key)
    return None


def request_to_json(request: SkillRequest) -> dict[str, Any]:
    """A request as stored while it waits for its batch (JSON: dates as ISO text)."""
    data = dataclasses.asdict(request)
    data["sources"] = [
        {
            **dataclasses.asdict(doc),
            "published_on": doc.published_on.isoformat() if doc.published_on else None,
            "retrieved_at": doc.retrieved_at.isoformat(),
        }
        for doc in request.sources
    ]
    return data


def request_from_json(data: dict[str, Any]) -> SkillRequest:
    """:func:`request_to_json` read back: the same request, equal field for field."""
    sources = [
        SourceDoc(
            **{
                **doc,
                "published_on": dt.date.fromisoformat(doc["published_on"]) if doc["published_on"] else None,
                "retrieved_at": dt.datetime.fromisoformat(doc["retrieved_at"]),
            }
        )
        for doc in data["sources"]
    ]
    return SkillRequest(**{**data, "sources": sources})

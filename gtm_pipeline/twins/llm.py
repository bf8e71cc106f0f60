"""Twins of the Anthropic Messages API and the OpenAI Chat Completions API.

Their answers are produced from the request, deterministically: the twin reads back the
skill's inputs and ``<source>`` blocks from the prompt and answers with the offline
extractive engine, so a valid request gets a contract-valid answer grounded in the very
sources it was sent. Faults are scripted per request (``settings.script(...)``): rate
limits with ``retry-after``, 500, 529/503, timeouts, malformed JSON, truncated output, a
quote that is not in the sources, a wrong key.

Usage is reported as the real APIs report it, so a benchmark can price it (``bench/cost.py``):
tokens counted the way a BPE tokenizer roughly counts them; Anthropic's prompt caching with its
rules (the prefix up to the last ``cache_control`` breakpoint, tools then system then messages, the
model's minimum cacheable length, a 5-minute or 1-hour TTL on the twin's clock, ``input_tokens``
only the uncached rest); OpenAI-style automatic prefix caching in ``prompt_tokens_details``. Both
twins also serve their batch APIs (Message Batches; files + ``/v1/batches``).
"""

from __future__ import annotations

import datetime as dt
import email.parser
import email.policy
import hashlib
import json
import math
import re
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from gtm_pipeline.domain.clock import Clock, SystemClock
from gtm_pipeline.domain.contracts import FINDING_TYPES
from gtm_pipeline.providers.base import SkillRequest
from gtm_pipeline.providers.offline import OfflineProvider
from gtm_pipeline.providers.prompt import parse_user_prompt
from gtm_pipeline.twins.server import TwinRequest, TwinServer, TwinSettings

JSON = {"content-type": "application/json"}
_CONTRACT_RE = re.compile(r"Output contract: (\w+)")
_engine = OfflineProvider()


def _answer(contract: str, system: str, user: str) -> dict[str, Any]:
    """The deterministic answer to a skill prompt (what a perfectly obedient model would say)."""
    if contract not in FINDING_TYPES:
        found = _CONTRACT_RE.search(system)
        contract = found.group(1) if found else contract
    inputs, sources = parse_user_prompt(user)
    request = SkillRequest(
        skill="twin",
        skill_version="0",
        instructions=system,
        voice="",
        output_contract=contract,
        output_schema={},
        inputs=inputs,
        sources=sources,
    )
    return json.loads(_engine.complete(request).text)


_HIDDEN_RE = re.compile(r"<!--(.*?)-->", re.DOTALL)


def _obey_hidden_instructions(answer: dict[str, Any], user: str) -> dict[str, Any]:
    """Behave like a model fooled by a page: copy hidden instructions into the draft it writes."""
    finding = answer.get("finding") or {}
    hidden = " ".join(m.strip() for m in _HIDDEN_RE.findall(user))
    if hidden and "body" in finding:
        finding["body"] = f"{finding['body']}\n\nP.S. {hidden}"
    return answer


def _corrupt_quote(answer: dict[str, Any]) -> dict[str, Any]:
    if answer.get("evidence"):
        answer["evidence"][0]["quote"] = (
            "This sentence was never in any fetched source, but sounds plausible."
        )
    return answer


_TOKEN_RE = re.compile(r"[A-Za-z]+|[0-9]{1,3}|[^\sA-Za-z0-9]{1,2}")


def _tokens(text: str) -> int:
    """A BPE-like token count: a common word is one token, a long word one per six letters, digits
    go in threes, punctuation in pairs (``{"`` and ``",`` are single tokens in real vocabularies).

    About 3.8 characters a token on the sample pages and 3.1 on JSON schemas, as real tokenizers
    give; a flat characters / 4 would make JSON (schemas, tool calls) look cheaper than it is."""
    return max(1, sum(1 if len(m) <= 6 else math.ceil(len(m) / 6) for m in _TOKEN_RE.findall(text)))


def _token_offsets(text: str, every: int) -> list[int]:
    """Character offsets at which each run of ``every`` tokens ends (prefix-cache block boundaries)."""
    offsets: list[int] = []
    count = 0
    for match in _TOKEN_RE.finditer(text):
        word = match.group()
        count += 1 if len(word) <= 6 else math.ceil(len(word) / 6)
        while count >= every * (len(offsets) + 1):
            offsets.append(match.end())
    return offsets


def _error(
    status: int, body: dict[str, Any], retry_after: float | None = None
) -> tuple[int, dict[str, str], bytes]:
    headers = dict(JSON)
    if retry_after is not None:
        headers["retry-after"] = str(max(1, math.ceil(retry_after)))
        headers["retry-after-ms"] = str(int(retry_after * 1000))
    return status, headers, json.dumps(body).encode()


# ---------------------------------------------------------------------------- prompt caching

# Tokens Anthropic adds to the system prompt when tools are given, with ``tool_choice`` any/tool
# (a forced call, as the polish provider makes) or auto/none: its tool-use docs list these.
TOOL_PROMPT_TOKENS = {"forced": 313, "auto": 346}
CACHE_TTL = {"5m": dt.timedelta(minutes=5), "1h": dt.timedelta(hours=1)}
OPENAI_CACHE_MIN_TOKENS = 1024  # OpenAI caches prompts from 1,024 tokens on ...
OPENAI_CACHE_BLOCK_TOKENS = 128  # ... in blocks of 128 tokens


def minimum_cacheable_tokens(model: str) -> int:
    """Anthropic's minimum cacheable prefix per model: shorter prefixes are silently not cached.

    1,024 for Sonnet (and Opus 4/4.1), 4,096 for Opus 4.5+ and Haiku 4.5, 2,048 for older Haiku."""
    if any(tag in model for tag in ("opus-4-5", "opus-4-6", "haiku-4-5")):
        return 4096
    return 2048 if "haiku" in model else 1024


@dataclass
class CacheStats:
    """What the twin's cache did, for a benchmark to read: the prefix tokens it was asked to cache
    (``prefix``), read from and written to the cache, and the calls whose prefix was too short."""

    calls: int = 0
    prefix: int = 0
    read: int = 0
    written: int = 0
    below_minimum: int = 0


@dataclass
class PromptCache:
    """A provider-side prefix cache: entries keyed by model and prefix hash, each living for its TTL
    after its last use, measured on the twin's clock (a test or a benchmark moves it)."""

    clock: Clock
    entries: dict[tuple[str, str], dt.datetime] = field(default_factory=dict)
    stats: CacheStats = field(default_factory=CacheStats)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _live(self, key: tuple[str, str], now: dt.datetime) -> bool:
        expires = self.entries.get(key)
        if expires is not None and expires <= now:
            del self.entries[key]
            return False
        return expires is not None

    def lookup(self, model: str, prefixes: list[tuple[str, int, dt.timedelta]]) -> tuple[int, int]:
        """``(read, written)`` tokens for a prompt whose cacheable prefixes (hash, tokens up to it,
        TTL), shortest first, are ``prefixes``: the longest live one is read (and its TTL
        refreshed), the rest up to the last one is written, each longer prefix becoming an entry."""
        if not prefixes:
            return 0, 0
        now = self.clock.now()
        with self.lock:
            read = 0
            for digest, tokens, ttl in reversed(prefixes):
                if self._live((model, digest), now):
                    read = tokens
                    self.entries[(model, digest)] = now + ttl
                    break
            for digest, tokens, ttl in prefixes:  # every breakpoint (block) is an entry of its own
                if tokens > read:
                    self.entries[(model, digest)] = now + ttl
            return read, prefixes[-1][1] - read


# ---------------------------------------------------------------------------- Anthropic


def _anthropic_blocks(body: dict[str, Any]) -> list[tuple[str, dict[str, Any] | None]]:
    """The prompt's blocks in cache order (tools, system, messages), each with its ``cache_control``.
    The top-level ``cache_control`` (automatic caching) marks the last block."""
    blocks: list[tuple[str, dict[str, Any] | None]] = []
    for tool in body.get("tools") or []:
        definition = {k: v for k, v in tool.items() if k != "cache_control"}
        blocks.append((json.dumps(definition, sort_keys=True), tool.get("cache_control")))
    system = body.get("system") or []
    system_blocks: list[dict[str, Any]] = (
        [{"type": "text", "text": system}] if isinstance(system, str) else system
    )
    for block in system_blocks:
        blocks.append((str(block.get("text", "")), block.get("cache_control")))
    for message in body.get("messages") or []:
        content = message.get("content")
        parts: list[dict[str, Any]] = (
            [{"type": "text", "text": content}] if isinstance(content, str) else content or []
        )
        for part in parts:
            text = part.get("text") if part.get("type") == "text" else json.dumps(part, sort_keys=True)
            blocks.append((f"{message.get('role')}: {text}", part.get("cache_control")))
    if body.get("cache_control") and blocks:
        blocks[-1] = (blocks[-1][0], body["cache_control"])
    return blocks


@dataclass
class _Batch:
    """A submitted batch: its results are computed on submission and shown once it has ended."""

    id: str
    created_at: dt.datetime
    ends_at: dt.datetime
    results: list[dict[str, Any]] = field(default_factory=list)
    output: str = ""  # OpenAI: the output and error files' ids
    errors: str = ""
    deleted: bool = False  # Anthropic: deleted by its owner (results gone; the record stays for tests)


class AnthropicTwin(TwinServer):
    """``POST /v1/messages`` with forced tool use, prompt caching accounting and Anthropic errors,
    and the Message Batches API (``/v1/messages/batches``: create, retrieve, results).

    A batch ends ``batch_duration`` after its creation on the twin's clock; ``batch_faults`` are
    consumed one per batch item (a request fault, or ``errored``, ``expired``, ``canceled``). An
    ended batch can be deleted (``DELETE /v1/messages/batches/{id}``): its results are gone."""

    def __init__(
        self,
        settings: TwinSettings | None = None,
        *,
        clock: Clock | None = None,
        batch_duration: dt.timedelta = dt.timedelta(0),
        min_cache_tokens: int | None = None,
    ) -> None:
        self.cache = PromptCache(clock or SystemClock())
        # None: the documented per-model minimum; a number plays a stricter floor (one report has
        # Sonnet 4.6 caching only from 2,048 tokens: anthropics/anthropic-sdk-python#1194)
        self.min_cache_tokens = min_cache_tokens
        self.batches: dict[str, _Batch] = {}
        self.batch_duration = batch_duration
        self.batch_faults: deque[str] = deque()
        # Creates whose answer is lost: the batch is made, then the client gets a 500 (a proxy or
        # the connection dropped the answer), the case a client must not retry blindly.
        self.lose_batch_answers = 0
        self._batch_lock = threading.Lock()
        super().__init__(
            {
                ("POST", "/v1/messages"): self._messages,
                ("POST", "/v1/messages/batches"): self._create_batch,
                ("GET", "/v1/messages/batches/*"): self._get_batch,
                ("GET", "/v1/messages/batch-results/*"): self._batch_results,
                ("DELETE", "/v1/messages/batches/*"): self._delete_batch,
            },
            settings,
        )

    def usage(self, body: dict[str, Any], output_text: str) -> dict[str, Any]:
        """The ``usage`` the real API reports for ``body``, with its prompt-caching semantics.

        The prompt is tools, then system blocks, then messages. A ``cache_control`` block (or the
        top-level ``cache_control``: the last block) is a breakpoint; the prefix up to the last
        breakpoint is cached if it reaches the model's minimum, otherwise nothing is cached and no
        error is raised. ``input_tokens`` is only the uncached rest."""
        model = str(body.get("model", ""))
        blocks = _anthropic_blocks(body)
        tools = body.get("tools") or []
        forced = (body.get("tool_choice") or {}).get("type") in ("any", "tool")
        running = TOOL_PROMPT_TOKENS["forced" if forced else "auto"] if tools else 0
        digest = hashlib.sha256(model.encode())
        prefixes: list[tuple[str, int, dt.timedelta]] = []
        for text, cache_control in blocks:
            running += _tokens(text)
            digest.update(text.encode() + b"\x1e")
            if cache_control is not None:
                ttl = CACHE_TTL.get(str(cache_control.get("ttl", "5m")), CACHE_TTL["5m"])
                prefixes.append((digest.hexdigest(), running, ttl))
        total = running
        minimum = self.min_cache_tokens or minimum_cacheable_tokens(model)
        cacheable = [p for p in prefixes if p[1] >= minimum]
        read, written = self.cache.lookup(model, cacheable)
        stats = self.cache.stats
        with self.cache.lock:
            stats.calls += 1
            if prefixes:
                stats.prefix += prefixes[-1][1]
                stats.read += read
                stats.written += written
                stats.below_minimum += 0 if cacheable else 1
        hour = bool(cacheable) and cacheable[-1][2] == CACHE_TTL["1h"]
        return {
            "input_tokens": total - read - written,
            "output_tokens": _tokens(output_text),
            "cache_creation_input_tokens": written,
            "cache_read_input_tokens": read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": 0 if hour else written,
                "ephemeral_1h_input_tokens": written if hour else 0,
            },
            "service_tier": "standard",
        }

    def _anthropic_error(self, request: TwinRequest) -> tuple[int, dict[str, str], bytes] | None:
        kinds = {
            "rate_limit": (429, "rate_limit_error"),
            "server_error": (500, "api_error"),
            "overloaded": (529, "overloaded_error"),
            "unavailable": (503, "api_error"),
            "unauthorized": (401, "authentication_error"),
        }
        expected = self.settings.expected_key
        fault = request.fault
        presented = request.headers.get("x-api-key") or request.headers.get("authorization", "").removeprefix(
            "Bearer "
        )
        if expected is not None and presented != expected:
            fault = "unauthorized"
        if fault in kinds:
            status, kind = kinds[fault]
            body = {
                "type": "error",
                "error": {"type": kind, "message": f"twin: {kind}"},
                "request_id": "req_twin",
            }
            return _error(status, body, request.retry_after_s if status == 429 else None)
        return None

    def _messages(self, request: TwinRequest) -> tuple[int, dict[str, str], bytes]:
        failed = self._anthropic_error(request)
        if failed is not None:
            return failed
        response = self._message(request.json(), request.fault, request.body)
        return 200, dict(JSON), json.dumps(response).encode()

    def _message(
        self, body: dict[str, Any], fault: str | None, raw: bytes, tier: str = "standard"
    ) -> dict[str, Any]:
        """The Message a request body gets (a batch item's ``params`` get the same)."""
        system_blocks = body.get("system") or []
        if isinstance(system_blocks, str):
            system_blocks = [{"type": "text", "text": system_blocks}]
        system = "\n".join(b.get("text", "") for b in system_blocks)
        user = "\n".join(
            m["content"]
            if isinstance(m["content"], str)
            else "".join(p.get("text", "") for p in m["content"])
            for m in body.get("messages", [])
            if m.get("role") == "user"
        )
        tool = (body.get("tools") or [{}])[0]
        answer = _answer(tool.get("name", ""), system, user)
        if fault == "bad_quote":
            answer = _corrupt_quote(answer)
        if fault == "obey_injection":
            answer = _obey_hidden_instructions(answer, user)
        content: list[dict[str, Any]] = [
            {"type": "tool_use", "id": "toolu_twin", "name": tool.get("name", "output"), "input": answer}
        ]
        stop = "tool_use"
        if fault in ("malformed_json", "truncated"):
            text = json.dumps(answer)
            content = [{"type": "text", "text": text[: len(text) // 2] if fault == "truncated" else "{oops"}]
            stop = "max_tokens" if fault == "truncated" else "end_turn"
        return {
            "id": "msg_" + hashlib.sha256(raw).hexdigest()[:20],
            "type": "message",
            "role": "assistant",
            "model": body.get("model", "claude-twin"),
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {**self.usage(body, json.dumps(answer)), "service_tier": tier},
        }

    # ------------------------------------------------------------------------ Message Batches

    def _flat(self, path: str) -> str:
        return re.sub(r"^/v1/messages/batches/([^/?]+)/results", r"/v1/messages/batch-results/\1", path)

    def _dispatch(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        return super()._dispatch(method, self._flat(path), headers, body)

    def _not_found(self, what: str) -> tuple[int, dict[str, str], bytes]:
        body = {
            "type": "error",
            "error": {"type": "not_found_error", "message": what},
            "request_id": "req_twin",
        }
        return _error(404, body)

    def _batch_view(self, batch: _Batch) -> dict[str, Any]:
        ended = self.cache.clock.now() >= batch.ends_at
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        for line in batch.results:
            counts[line["result"]["type"] if ended else "processing"] += 1
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": "ended" if ended else "in_progress",
            "request_counts": counts,
            "created_at": batch.created_at.isoformat(),
            "expires_at": (batch.created_at + dt.timedelta(hours=24)).isoformat(),
            "ended_at": batch.ends_at.isoformat() if ended else None,
            "archived_at": None,
            "cancel_initiated_at": None,
            "results_url": f"{self.url}/v1/messages/batches/{batch.id}/results" if ended else None,
        }

    def _create_batch(self, request: TwinRequest) -> tuple[int, dict[str, str], bytes]:
        failed = self._anthropic_error(request)
        if failed is not None:
            return failed
        items = request.json().get("requests") or []
        ids = [item.get("custom_id") for item in items]
        if not items or len(set(ids)) != len(ids) or len(items) > 100_000:
            body = {
                "type": "error",
                "error": {
                    "type": "invalid_request_error",
                    "message": "requests: 1 to 100,000 unique custom_ids",
                },
                "request_id": "req_twin",
            }
            return _error(400, body)
        now = self.cache.clock.now()
        with self._batch_lock:
            batch = _Batch(f"msgbatch_twin{len(self.batches) + 1:06d}", now, now + self.batch_duration)
            self.batches[batch.id] = batch
        for item in items:
            fault = self.batch_faults.popleft() if self.batch_faults else None
            result: dict[str, Any]
            if fault == "errored":
                error = {"type": "invalid_request_error", "message": "twin: errored"}
                result = {"type": "errored", "error": {"type": "error", "error": error, "request_id": None}}
            elif fault in ("expired", "canceled"):
                result = {"type": fault}
            else:
                params = item.get("params") or {}
                message = self._message(params, fault, json.dumps(item).encode(), tier="batch")
                result = {"type": "succeeded", "message": message}
            batch.results.append({"custom_id": item["custom_id"], "result": result})
        if self._answer_lost():
            lost = {"type": "api_error", "message": "twin: lost"}
            return _error(500, {"type": "error", "error": lost, "request_id": None})
        return 200, dict(JSON), json.dumps(self._batch_view(batch)).encode()

    def _answer_lost(self) -> bool:
        with self._batch_lock:
            if self.lose_batch_answers <= 0:
                return False
            self.lose_batch_answers -= 1
            return True

    def _get_batch(self, request: TwinRequest) -> tuple[int, dict[str, str], bytes]:
        failed = self._anthropic_error(request)
        if failed is not None:
            return failed
        batch = self.batches.get(request.path.split("?")[0].rsplit("/", 1)[1])
        if batch is None or batch.deleted:
            return self._not_found("no such batch")
        return 200, dict(JSON), json.dumps(self._batch_view(batch)).encode()

    def _delete_batch(self, request: TwinRequest) -> tuple[int, dict[str, str], bytes]:
        """Deleting an ended batch removes it and its results; one still processing must be
        canceled first (a 400, as the real API answers)."""
        failed = self._anthropic_error(request)
        if failed is not None:
            return failed
        batch = self.batches.get(request.path.split("?")[0].rsplit("/", 1)[1])
        if batch is None or batch.deleted:
            return self._not_found("no such batch")
        if self.cache.clock.now() < batch.ends_at:
            body = {
                "type": "error",
                "error": {
                    "type": "invalid_request_error",
                    "message": "a batch in progress cannot be deleted",
                },
                "request_id": "req_twin",
            }
            return _error(400, body)
        batch.deleted = True
        return 200, dict(JSON), json.dumps({"id": batch.id, "type": "message_batch_deleted"}).encode()

    def _batch_results(self, request: TwinRequest) -> tuple[int, dict[str, str], bytes]:
        failed = self._anthropic_error(request)
        if failed is not None:
            return failed
        batch = self.batches.get(request.path.split("?")[0].rsplit("/", 1)[1])
        if batch is None or batch.deleted or self.cache.clock.now() < batch.ends_at:
            return self._not_found("no results (yet) for this batch")
        # results are not in request order: callers must match on custom_id
        lines = "".join(json.dumps(line) + "\n" for line in reversed(batch.results))
        return 200, {"content-type": "application/binary"}, lines.encode()


# ---------------------------------------------------------------------------- OpenAI-compatible


def _text(content: Any) -> str:
    return content if isinstance(content, str) else json.dumps(content)


class OpenAITwin(TwinServer):
    """``POST /v1/chat/completions`` with ``response_format`` json_schema and OpenAI-style errors, and
    (``batch_api``) OpenAI's Batch API: ``/v1/files`` uploads and ``/v1/batches``, results in an
    output file and failures in an error file. Batches end and ``batch_faults`` apply as in
    :class:`AnthropicTwin`."""

    def __init__(
        self,
        settings: TwinSettings | None = None,
        *,
        clock: Clock | None = None,
        prefix_cache: bool = True,
        batch_api: bool = True,
        batch_duration: dt.timedelta = dt.timedelta(0),
    ) -> None:
        self.cache = PromptCache(clock or SystemClock())
        self.prefix_cache = prefix_cache  # off: a host that reports no cached tokens (many don't)
        self.files: dict[str, tuple[str, bytes]] = {}
        self.deleted_files: set[str] = set()  # deleted by their owner: their content is gone
        self.batches: dict[str, _Batch] = {}
        self.batch_duration = batch_duration
        self.batch_faults: deque[str] = deque()
        self.lose_batch_answers = 0  # as AnthropicTwin's: the batch is made, the answer is a 500
        self._batch_bodies: dict[str, dict[str, Any]] = {}
        self._batch_lock = threading.Lock()
        routes: dict[tuple[str, str], Any] = {("POST", "/v1/chat/completions"): self._completions}
        if batch_api:  # vLLM, Ollama and NVIDIA's hosted API have none: off, these paths are 404
            routes |= {
                ("POST", "/v1/files"): self._upload,
                ("GET", "/v1/files-content/*"): self._file_content,
                ("POST", "/v1/batches"): self._create_batch,
                ("GET", "/v1/batches/*"): self._get_batch,
                ("DELETE", "/v1/files/*"): self._delete_file,
            }
        super().__init__(routes, settings)

    def usage(self, body: dict[str, Any], output_text: str) -> dict[str, Any]:
        """The ``usage`` an OpenAI-compatible server reports: prompt and completion tokens, and with
        automatic prefix caching, ``prompt_tokens_details.cached_tokens`` (prompts from 1,024
        tokens, cached in 128-token blocks, entries living 5 minutes after their last use)."""
        model = str(body.get("model", ""))
        rendered = "".join(  # as a chat template renders it: role markers around each message
            f"<|{m.get('role')}|>{_text(m.get('content'))}<|end|>" for m in body.get("messages") or []
        )
        prompt_tokens = _tokens(rendered)
        cached = 0
        if self.prefix_cache:
            digest = hashlib.sha256(model.encode())
            start, prefixes = 0, []
            for number, end in enumerate(_token_offsets(rendered, OPENAI_CACHE_BLOCK_TOKENS), start=1):
                digest.update(rendered[start:end].encode())
                start = end
                if number * OPENAI_CACHE_BLOCK_TOKENS >= OPENAI_CACHE_MIN_TOKENS:
                    prefixes.append((digest.hexdigest(), number * OPENAI_CACHE_BLOCK_TOKENS, CACHE_TTL["5m"]))
            cached, _written = self.cache.lookup(model, prefixes)
            with self.cache.lock:
                self.cache.stats.calls += 1
                self.cache.stats.read += cached
        completion_tokens = _tokens(output_text)
        return {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": cached},
            "completion_tokens_details": {"reasoning_tokens": 0},
        }

    def _refused(self, request: TwinRequest) -> tuple[int, dict[str, str], bytes] | None:
        expected = self.settings.expected_key
        fault = request.fault
        if expected is not None and request.headers.get("authorization") != f"Bearer {expected}":
            fault = "unauthorized"
        statuses = {
            "rate_limit": 429,
            "server_error": 500,
            "overloaded": 503,
            "unavailable": 503,
            "unauthorized": 401,
        }
        if fault in statuses:
            status = statuses[fault]
            body = {"error": {"message": f"twin: {fault}", "type": fault, "code": str(status)}}
            return _error(status, body, request.retry_after_s if status == 429 else None)
        return None

    def _completions(self, request: TwinRequest) -> tuple[int, dict[str, str], bytes]:
        refused = self._refused(request)
        if refused is not None:
            return refused
        response = self._completion(request.json(), request.fault, request.body)
        return 200, dict(JSON), json.dumps(response).encode()

    def _completion(self, body: dict[str, Any], fault: str | None, raw: bytes) -> dict[str, Any]:
        """The chat completion a request body gets (a batch line's ``body`` gets the same)."""
        messages = body.get("messages", [])
        system = "\n".join(m["content"] for m in messages if m.get("role") == "system")
        user = "\n".join(m["content"] for m in messages if m.get("role") == "user")
        schema_name = ((body.get("response_format") or {}).get("json_schema") or {}).get("name", "")
        answer = _answer(schema_name, system, user)
        if fault == "bad_quote":
            answer = _corrupt_quote(answer)
        if fault == "obey_injection":
            answer = _obey_hidden_instructions(answer, user)
        text, finish = json.dumps(answer), "stop"
        if fault == "truncated":
            text, finish = text[: len(text) // 2], "length"
        elif fault == "malformed_json":
            text = "Sure! Here is the JSON you asked for: {oops"
        return {
            "id": "chatcmpl-" + hashlib.sha256(raw).hexdigest()[:20],
            "object": "chat.completion",
            "created": int(self.cache.clock.now().timestamp()),
            "model": body.get("model", "twin"),
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
            ],
            "usage": self.usage(body, text),
        }

    # ------------------------------------------------------------------------ Batch API

    def _dispatch(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        flat = re.sub(r"^/v1/files/([^/?]+)/content", r"/v1/files-content/\1", path)
        return super()._dispatch(method, flat, headers, body)

    def _bad(self, status: int, message: str) -> tuple[int, dict[str, str], bytes]:
        return _error(status, {"error": {"message": message, "type": "invalid_request_error", "code": None}})

    def _store_file(self, name: str, purpose: str, content: bytes) -> dict[str, Any]:
        with self._batch_lock:
            file_id = f"file-twin{len(self.files) + 1:06d}"
            self.files[file_id] = (name, content)
        return {
            "id": file_id,
            "object": "file",
            "bytes": len(content),
            "created_at": int(self.cache.clock.now().timestamp()),
            "filename": name,
            "purpose": purpose,
            "status": "processed",
        }

    def _upload(self, request: TwinRequest) -> tuple[int, dict[str, str], bytes]:
        refused = self._refused(request)
        if refused is not None:
            return refused
        fields = _multipart(request.headers.get("content-type", ""), request.body)
        if "file" not in fields or fields.get("purpose", (None, b""))[1] != b"batch":
            return self._bad(400, "a file with purpose=batch is required")
        name, content = fields["file"]
        return 200, dict(JSON), json.dumps(self._store_file(name or "input.jsonl", "batch", content)).encode()

    def _file_content(self, request: TwinRequest) -> tuple[int, dict[str, str], bytes]:
        refused = self._refused(request)
        if refused is not None:
            return refused
        file_id = request.path.split("?")[0].rsplit("/", 1)[1]
        stored = self.files.get(file_id)
        if stored is None or file_id in self.deleted_files:
            return self._bad(404, "no such file")
        return 200, {"content-type": "application/octet-stream"}, stored[1]

    def _delete_file(self, request: TwinRequest) -> tuple[int, dict[str, str], bytes]:
        refused = self._refused(request)
        if refused is not None:
            return refused
        file_id = request.path.split("?")[0].rsplit("/", 1)[1]
        if file_id not in self.files or file_id in self.deleted_files:
            return self._bad(404, "no such file")
        self.deleted_files.add(file_id)
        return 200, dict(JSON), json.dumps({"id": file_id, "object": "file", "deleted": True}).encode()

    def _batch_view(self, batch: _Batch, body: dict[str, Any]) -> dict[str, Any]:
        done = self.cache.clock.now() >= batch.ends_at
        failed = sum(1 for line in batch.results if line["error"] is not None)
        return {
            "id": batch.id,
            "object": "batch",
            "endpoint": body.get("endpoint", "/v1/chat/completions"),
            "errors": None,
            "input_file_id": body.get("input_file_id", ""),
            "completion_window": body.get("completion_window", "24h"),
            "status": "completed" if done else "in_progress",
            "output_file_id": batch.output if done else None,
            "error_file_id": (batch.errors or None) if done else None,
            "created_at": int(batch.created_at.timestamp()),
            "in_progress_at": int(batch.created_at.timestamp()),
            "expires_at": int((batch.created_at + dt.timedelta(hours=24)).timestamp()),
            "completed_at": int(batch.ends_at.timestamp()) if done else None,
            "request_counts": {
                "total": len(batch.results),
                "completed": len(batch.results) - failed if done else 0,
                "failed": failed if done else 0,
            },
            "metadata": body.get("metadata"),
        }

    def _create_batch(self, request: TwinRequest) -> tuple[int, dict[str, str], bytes]:
        refused = self._refused(request)
        if refused is not None:
            return refused
        body = request.json()
        stored = self.files.get(body.get("input_file_id", ""))
        if body.get("endpoint") != "/v1/chat/completions" or stored is None:
            return self._bad(400, "endpoint must be /v1/chat/completions and input_file_id an uploaded file")
        try:
            lines = [json.loads(line) for line in stored[1].decode().splitlines() if line.strip()]
        except json.JSONDecodeError:
            return self._bad(400, "the input file is not JSONL")
        now = self.cache.clock.now()
        with self._batch_lock:
            batch = _Batch(f"batch_twin{len(self.batches) + 1:06d}", now, now + self.batch_duration)
            self.batches[batch.id] = batch
        outputs, errors = [], []
        for number, line in enumerate(lines):
            fault = self.batch_faults.popleft() if self.batch_faults else None
            entry: dict[str, Any] = {"id": f"batch_req_{number}", "custom_id": line.get("custom_id")}
            if fault in ("errored", "expired", "canceled"):
                entry |= {"response": None, "error": {"code": f"batch_{fault}", "message": f"twin: {fault}"}}
                errors.append(entry)
            else:
                completion = self._completion(line.get("body") or {}, fault, json.dumps(line).encode())
                response = {"status_code": 200, "request_id": f"req_{number}", "body": completion}
                entry |= {"response": response, "error": None}
                outputs.append(entry)
            batch.results.append(entry)
        batch.output = self._store_file(f"{batch.id}_output.jsonl", "batch_output", _jsonl(outputs))["id"]
        if errors:
            batch.errors = self._store_file(f"{batch.id}_errors.jsonl", "batch_output", _jsonl(errors))["id"]
        self._batch_bodies[batch.id] = body
        with self._batch_lock:
            lost = self.lose_batch_answers > 0
            self.lose_batch_answers -= lost
        if lost:
            return _error(500, {"error": {"message": "twin: lost", "type": "server_error", "code": "500"}})
        return 200, dict(JSON), json.dumps(self._batch_view(batch, body)).encode()

    def _get_batch(self, request: TwinRequest) -> tuple[int, dict[str, str], bytes]:
        refused = self._refused(request)
        if refused is not None:
            return refused
        batch_id = request.path.split("?")[0].rsplit("/", 1)[1]
        batch = self.batches.get(batch_id)
        if batch is None:
            return self._bad(404, "no such batch")
        return 200, dict(JSON), json.dumps(self._batch_view(batch, self._batch_bodies[batch_id])).encode()


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in reversed(rows)).encode()  # not in input order


def _multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """The fields of a ``multipart/form-data`` body: name -> (filename, content)."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"content-type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts() if message.is_multipart() else []:
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = (part.get_filename(), payload)
    return fields

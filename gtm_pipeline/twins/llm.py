"""Twins of the Anthropic Messages API and the OpenAI Chat Completions API.

Their answers are produced from the request, deterministically: the twin reads back the
skill's inputs and ``<source>`` blocks from the prompt and answers with the offline
extractive engine, so a valid request gets a contract-valid answer grounded in the very
sources it was sent. Faults are scripted per request (``settings.script(...)``): rate
limits with ``retry-after``, 500, 529/503, timeouts, malformed JSON, truncated output, a
quote that is not in the sources, a wrong key.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any

from gtm_pipeline.domain.clock import SystemClock
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


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


def _error(
    status: int, body: dict[str, Any], retry_after: float | None = None
) -> tuple[int, dict[str, str], bytes]:
    headers = dict(JSON)
    if retry_after is not None:
        headers["retry-after"] = str(max(1, math.ceil(retry_after)))
        headers["retry-after-ms"] = str(int(retry_after * 1000))
    return status, headers, json.dumps(body).encode()


# ---------------------------------------------------------------------------- Anthropic


class AnthropicTwin(TwinServer):
    """``POST /v1/messages`` with forced tool use, prompt caching accounting and Anthropic errors."""

    def __init__(self, settings: TwinSettings | None = None) -> None:
        self.cached_prefixes: set[str] = set()
        super().__init__({("POST", "/v1/messages"): self._messages}, settings)

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
        body = request.json()
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
        if request.fault == "bad_quote":
            answer = _corrupt_quote(answer)
        if request.fault == "obey_injection":
            answer = _obey_hidden_instructions(answer, user)
        cache_write = cache_read = 0
        cached = [b for b in system_blocks if b.get("cache_control")]
        if cached:
            prefix = hashlib.sha256(system.encode()).hexdigest()
            if prefix in self.cached_prefixes:
                cache_read = _tokens(system)
            else:
                self.cached_prefixes.add(prefix)
                cache_write = _tokens(system)
        uncached_input = _tokens(user) + (0 if cached else _tokens(system))
        content: list[dict[str, Any]] = [
            {"type": "tool_use", "id": "toolu_twin", "name": tool.get("name", "output"), "input": answer}
        ]
        stop = "tool_use"
        if request.fault in ("malformed_json", "truncated"):
            text = json.dumps(answer)
            content = [
                {"type": "text", "text": text[: len(text) // 2] if request.fault == "truncated" else "{oops"}
            ]
            stop = "max_tokens" if request.fault == "truncated" else "end_turn"
        response = {
            "id": "msg_" + hashlib.sha256(request.body).hexdigest()[:20],
            "type": "message",
            "role": "assistant",
            "model": body.get("model", "claude-twin"),
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {
                "input_tokens": uncached_input,
                "output_tokens": _tokens(json.dumps(answer)),
                "cache_creation_input_tokens": cache_write,
                "cache_read_input_tokens": cache_read,
            },
        }
        return 200, dict(JSON), json.dumps(response).encode()


# ---------------------------------------------------------------------------- OpenAI-compatible


class OpenAITwin(TwinServer):
    """``POST /v1/chat/completions`` with ``response_format`` json_schema and OpenAI-style errors."""

    def __init__(self, settings: TwinSettings | None = None) -> None:
        super().__init__({("POST", "/v1/chat/completions"): self._completions}, settings)

    def _completions(self, request: TwinRequest) -> tuple[int, dict[str, str], bytes]:
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
        body = request.json()
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
        prompt_tokens, completion_tokens = _tokens(system + user), _tokens(text)
        response = {
            "id": "chatcmpl-" + hashlib.sha256(request.body).hexdigest()[:20],
            "object": "chat.completion",
            "created": int(SystemClock().now().timestamp()),
            "model": body.get("model", "twin"),
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
        return 200, dict(JSON), json.dumps(response).encode()

"""The LLM twins report usage as the real APIs do, read through the official SDKs: Anthropic's
prompt caching (the prefix up to the last breakpoint, the model's minimum, the TTL on the twin's
clock) and OpenAI's ``prompt_tokens_details.cached_tokens``."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from gtm_pipeline.domain.clock import ManualClock
from gtm_pipeline.twins.llm import AnthropicTwin, OpenAITwin, _tokens, minimum_cacheable_tokens
from tests.conftest import TEST_START

LONG = " ".join(f"Rule {i}: quote the company's own words exactly and never guess." for i in range(150))
SHORT = "Be terse. Quote exactly."
TOOL = {
    "name": "ReplyClassificationFinding",
    "description": "Record the skill result.",
    "input_schema": {"type": "object", "properties": {"finding": {"type": "object"}}},
}


def _user(note: str) -> str:
    return "Inputs:\n" + json.dumps({"note": note})


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(TEST_START)


@pytest.fixture
def claude(clock: ManualClock) -> Iterator[tuple[AnthropicTwin, anthropic.Anthropic]]:
    with AnthropicTwin(clock=clock) as twin:
        yield twin, anthropic.Anthropic(api_key="k", base_url=twin.url, max_retries=0)


def _ask(
    client: anthropic.Anthropic, system: str, user: str, model: str = "claude-sonnet-4-6", **cache: Any
) -> Any:
    block: dict[str, Any] = {"type": "text", "text": system}
    if cache.get("breakpoint", True):
        block["cache_control"] = {"type": "ephemeral", **({"ttl": cache["ttl"]} if "ttl" in cache else {})}
    return client.messages.create(
        model=model,
        max_tokens=512,
        system=[block],  # type: ignore[list-item]
        messages=[{"role": "user", "content": user}],
        tools=[TOOL],  # type: ignore[list-item]
        tool_choice={"type": "tool", "name": "ReplyClassificationFinding"},
    ).usage


def test_the_first_call_writes_the_prefix_and_the_next_reads_it_with_only_the_rest_as_input(
    claude: tuple[AnthropicTwin, anthropic.Anthropic],
) -> None:
    twin, client = claude
    first = _ask(client, LONG, _user("prospect one"))
    second = _ask(client, LONG, _user("prospect two, with more words in it"))
    assert first.cache_read_input_tokens == 0 and first.cache_creation_input_tokens > 1024
    assert second.cache_creation_input_tokens == 0
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens
    # input_tokens is only what follows the breakpoint: the per-prospect user turn
    assert 0 < first.input_tokens < 40 and second.input_tokens > first.input_tokens
    assert first.cache_creation is not None and first.cache_creation.ephemeral_5m_input_tokens > 0
    assert twin.cache.stats.read == second.cache_read_input_tokens
    assert twin.cache.stats.prefix == 2 * first.cache_creation_input_tokens


def test_a_prefix_below_the_models_minimum_is_not_cached_and_raises_no_error(
    claude: tuple[AnthropicTwin, anthropic.Anthropic],
) -> None:
    twin, client = claude
    for _ in range(2):
        usage = _ask(client, SHORT, _user("hello"))
        assert usage.cache_read_input_tokens == 0 and usage.cache_creation_input_tokens == 0
        assert usage.input_tokens > _tokens(SHORT)  # everything is plain input, the tool prompt too
    assert twin.cache.stats.below_minimum == 2
    # the same ~2K-token prefix caches on Sonnet but not on Opus 4.6, whose minimum is 4,096
    medium = LONG[: len(LONG) // 2]
    assert minimum_cacheable_tokens("claude-opus-4-6") == 4096 > _tokens(medium) > 1024
    assert _ask(client, medium, _user("x"), model="claude-opus-4-6").cache_creation_input_tokens == 0
    assert _ask(client, medium, _user("x")).cache_creation_input_tokens > 0


def test_the_cache_lives_five_minutes_after_its_last_use_on_the_twins_clock(
    claude: tuple[AnthropicTwin, anthropic.Anthropic], clock: ManualClock
) -> None:
    _twin, client = claude
    written = _ask(client, LONG, _user("a")).cache_creation_input_tokens
    clock.set(clock.now() + dt.timedelta(minutes=4))
    assert _ask(client, LONG, _user("b")).cache_read_input_tokens == written  # a read refreshes the TTL ...
    clock.set(clock.now() + dt.timedelta(minutes=4, seconds=59))
    assert _ask(client, LONG, _user("c")).cache_read_input_tokens == written
    clock.set(clock.now() + dt.timedelta(minutes=5))  # ... and five idle minutes expire it
    expired = _ask(client, LONG, _user("d"))
    assert expired.cache_read_input_tokens == 0 and expired.cache_creation_input_tokens == written
    # a one-hour breakpoint survives the same idle time
    hour = _ask(client, LONG + " (hour)", _user("e"), ttl="1h")
    assert hour.cache_creation is not None and hour.cache_creation.ephemeral_1h_input_tokens > 0
    clock.set(clock.now() + dt.timedelta(minutes=30))
    assert _ask(client, LONG + " (hour)", _user("f"), ttl="1h").cache_read_input_tokens > 0


def test_per_prospect_text_before_the_breakpoint_defeats_the_cache(
    claude: tuple[AnthropicTwin, anthropic.Anthropic],
) -> None:
    _twin, client = claude
    for name in ("one", "two", "three"):
        usage = _ask(client, f"Prospect {name}.\n{LONG}", _user("inputs"))
        assert usage.cache_read_input_tokens == 0 and usage.cache_creation_input_tokens > 0
    without = _ask(client, LONG, _user("x"), breakpoint=False)
    assert without.cache_creation_input_tokens == 0 and without.input_tokens > 1024


def test_a_model_has_its_own_cache(claude: tuple[AnthropicTwin, anthropic.Anthropic]) -> None:
    _twin, client = claude
    _ask(client, LONG, _user("a"))
    assert _ask(client, LONG, _user("a"), model="claude-sonnet-4-5").cache_read_input_tokens == 0


def test_the_openai_twin_reports_cached_prompt_tokens_in_128_token_blocks_from_1024(
    clock: ManualClock,
) -> None:
    with OpenAITwin(clock=clock) as twin, OpenAITwin(clock=clock, prefix_cache=False) as plain:
        client = openai.OpenAI(api_key="k", base_url=twin.url + "/v1", max_retries=0)

        def ask(system: str, user: str, on: openai.OpenAI = client) -> Any:
            completion = on.chat.completions.create(
                model="nvidia/nemotron-3-super-120b-a12b",
                messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": "ReplyClassificationFinding", "schema": {}},
                },
            )
            return completion.usage

        first, second = ask(LONG, _user("")), ask(LONG, _user("another prospect"))
        assert first.prompt_tokens_details.cached_tokens == 0
        cached = second.prompt_tokens_details.cached_tokens
        assert cached >= 1024 and cached % 128 == 0 and second.prompt_tokens - cached < 128 + 20
        assert ask(SHORT, _user("x")).prompt_tokens_details.cached_tokens == 0
        assert ask(SHORT, _user("x")).prompt_tokens_details.cached_tokens == 0  # under 1,024: never cached
        clock.set(clock.now() + dt.timedelta(minutes=6))
        assert ask(LONG, _user("")).prompt_tokens_details.cached_tokens == 0
        other = openai.OpenAI(api_key="k", base_url=plain.url + "/v1", max_retries=0)
        for _ in range(2):
            usage = ask(LONG, _user(""), on=other)
            assert usage.prompt_tokens_details.cached_tokens == 0 and usage.prompt_tokens > 1024

"""The polish provider's prompt layout caches: the skill's stable part (tool schema, instructions,
voice, the untrusted-data rule, the contract) is the prefix up to the breakpoint, and each prospect's
inputs and sources come after it."""

from __future__ import annotations

import datetime as dt

from gtm_pipeline.domain.clock import ManualClock
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.providers.anthropic_provider import AnthropicConfig, AnthropicProvider, message_params
from gtm_pipeline.providers.base import SkillRequest
from gtm_pipeline.skills.runner import build_request
from gtm_pipeline.twins.llm import AnthropicTwin
from tests.conftest import TEST_START

SONNET = "claude-sonnet-4-6"


def _requests(services: Services, count: int) -> list[SkillRequest]:
    skill = services.catalog.skill("augment-profile")
    hypothesis = next(iter(services.hypotheses.values()))
    requests = []
    for candidate in services.corpus.candidates()[:count]:
        sources = services.corpus.fetch(candidate.domain)
        inputs = {
            "hypothesis": hypothesis.model_dump(mode="json", exclude={"body"}),
            "company": {"name": candidate.name, "domain": candidate.domain},
            "as_of": TEST_START.date().isoformat(),
        }
        requests.append(build_request(skill, inputs, sources))
    return requests


def test_every_prospect_after_the_first_reads_the_whole_stable_prefix(services: Services) -> None:
    requests = _requests(services, 3)
    params = [message_params(r, AnthropicConfig(model=SONNET)) for r in requests]
    # nothing of a prospect is before the breakpoint: tools and system are the same for all three
    assert params[0]["tools"] == params[1]["tools"] == params[2]["tools"]
    assert params[0]["system"] == params[1]["system"] == params[2]["system"]
    assert requests[0].inputs["company"]["domain"] in params[0]["messages"][0]["content"]
    with AnthropicTwin(clock=ManualClock(TEST_START)) as twin:
        provider = AnthropicProvider("polish", AnthropicConfig(base_url=twin.url, model=SONNET), api_key="k")
        first, *rest = (provider.complete(r).usage for r in requests)
    assert first.cache_write_tokens > 1024 and first.cache_read_tokens == 0
    assert all(u.cache_read_tokens == first.cache_write_tokens and u.cache_write_tokens == 0 for u in rest)
    assert all(u.input_tokens > 0 for u in rest)  # the prospect's own part, uncached


def test_a_one_hour_ttl_keeps_the_prefix_across_a_slow_backfill(services: Services) -> None:
    requests = _requests(services, 2)
    clock = ManualClock(TEST_START)
    with AnthropicTwin(clock=clock) as twin:
        for ttl, read in (("5m", False), ("1h", True)):
            config = AnthropicConfig(base_url=twin.url, model=SONNET, cache_ttl=ttl)  # type: ignore[arg-type]
            provider = AnthropicProvider("polish", config, api_key="k")
            provider.complete(requests[0])
            clock.set(clock.now() + dt.timedelta(minutes=20))
            usage = provider.complete(requests[1]).usage
            assert (usage.cache_read_tokens > 0) is read
            assert (usage.cache_write_tokens > 0) is not read
            clock.set(clock.now() + dt.timedelta(hours=2))  # the next round starts cold

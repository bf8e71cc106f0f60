"""Batch APIs through the official SDKs against the twins: submit, poll, collect; every result checked
by the runner's own contract and evidence checks, and priced at the batch discount."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from gtm_pipeline.domain.clock import ManualClock
from gtm_pipeline.domain.contracts import DeadLetterReason, SkillOutput
from gtm_pipeline.domain.ids import prospect_id
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.providers.anthropic_provider import AnthropicConfig, AnthropicProvider
from gtm_pipeline.providers.base import ProviderError, ProviderReply, SkillRequest
from gtm_pipeline.providers.batches import (
    AnthropicBatches,
    BatchCall,
    BatchUnsupported,
    OpenAIBatches,
    collect,
)
from gtm_pipeline.providers.openai_compat import OpenAICompatibleConfig
from gtm_pipeline.providers.pricing import PriceTable
from gtm_pipeline.skills.catalog import Skill
from gtm_pipeline.skills.runner import build_request, parse_reply
from gtm_pipeline.twins.llm import AnthropicTwin, OpenAITwin
from tests.conftest import STARTER, TEST_START

SONNET, NEMOTRON = "claude-sonnet-4-6", "nvidia/nemotron-3-super-120b-a12b"
PRICES = PriceTable.load(STARTER / "models.yaml")


def _calls(services: Services, count: int) -> tuple[Skill, list[BatchCall]]:
    """augment-profile calls for ``count`` sample companies, built as the research step builds them."""
    skill = services.catalog.skill("augment-profile")
    hypothesis = next(iter(services.hypotheses.values()))
    calls = []
    for candidate in [c for c in services.corpus.candidates() if c.folder != "sparrow-health"][:count]:
        sources = services.corpus.fetch(candidate.domain)
        inputs = {
            "hypothesis": hypothesis.model_dump(mode="json", exclude={"body"}),
            "company": {"name": candidate.name, "domain": candidate.domain},
            "as_of": max(d.retrieved_at for d in sources).date().isoformat(),
        }
        calls.append(BatchCall(prospect_id(candidate.domain), build_request(skill, inputs, sources)))
    return skill, calls


def _validator(skill: Skill) -> Any:
    def validate(
        request: SkillRequest, reply: ProviderReply
    ) -> tuple[SkillOutput[Any] | None, DeadLetterReason | None]:
        return parse_reply(skill, reply, request.sources)

    return validate


def test_a_message_batch_ends_on_the_twins_clock_and_each_result_is_checked_and_half_priced(
    services: Services,
) -> None:
    clock = ManualClock(TEST_START)
    skill, calls = _calls(services, 4)
    with AnthropicTwin(clock=clock, batch_duration=dt.timedelta(minutes=40)) as twin:
        config = AnthropicConfig(base_url=twin.url, model=SONNET)
        backend = AnthropicBatches("polish", config, api_key="k")
        twin.batch_faults.extend(["ok", "bad_quote", "errored", "malformed_json"])
        batch_id = backend.submit(calls)
        status = backend.poll(batch_id)
        assert not status.ended and status.counts["processing"] == 4
        clock.set(clock.now() + dt.timedelta(minutes=40))
        status = backend.poll(batch_id)
        assert status.ended and status.counts["succeeded"] == 3 and status.counts["errored"] == 1
        outcomes = {o.custom_id: o for o in collect(backend, batch_id, calls, PRICES, _validator(skill))}
        # the same call made directly: its price is twice the batch item's
        direct = AnthropicProvider("polish", config, api_key="k").complete(calls[0].request)
    ok, quote, errored, broken = (outcomes[c.custom_id] for c in calls)
    assert ok.output is not None and ok.failure is None and ok.reply is not None
    assert quote.output is None and quote.failure is not None and quote.failure.kind == "evidence"
    assert errored.failure is not None and errored.failure.kind == "provider_error" and errored.cost_usd == 0
    assert broken.failure is not None and broken.failure.kind == "invalid_json"
    # the batch's first item wrote the prefix and the rest read it; 40 minutes on, it has expired
    assert ok.reply.usage.cache_write_tokens > 0 and broken.reply is not None
    assert broken.reply.usage.cache_read_tokens == ok.reply.usage.cache_write_tokens
    assert direct.usage.cache_read_tokens == 0 and direct.usage.cache_write_tokens > 0
    assert ok.reply.usage.input_tokens == direct.usage.input_tokens
    expected = PRICES.cost(SONNET, ok.reply.usage) / 2
    assert ok.cost_usd == pytest.approx(expected) and ok.cost_usd > 0


def test_results_are_matched_on_custom_id_and_a_missing_one_is_a_failure_not_a_drop(
    services: Services,
) -> None:
    skill, calls = _calls(services, 3)
    with AnthropicTwin() as twin:
        backend = AnthropicBatches("polish", AnthropicConfig(base_url=twin.url, model=SONNET), api_key="k")
        batch_id = backend.submit(calls[:2])
        extra = BatchCall("p_not_submitted", calls[2].request)
        outcomes = collect(backend, batch_id, [*calls[:2], extra], PRICES, _validator(skill))
    assert [o.custom_id for o in outcomes] == [calls[0].custom_id, calls[1].custom_id, "p_not_submitted"]
    assert all(o.output is not None for o in outcomes[:2])
    assert outcomes[2].failure is not None and "no result" in outcomes[2].failure.detail
    with pytest.raises(ValueError, match="unique"):
        backend.submit([calls[0], calls[0]])


def test_the_openai_batch_api_runs_a_jsonl_file_and_reports_failures_from_its_error_file(
    services: Services,
) -> None:
    clock = ManualClock(TEST_START)
    skill, calls = _calls(services, 3)
    with OpenAITwin(clock=clock, batch_duration=dt.timedelta(hours=2)) as twin:
        config = OpenAICompatibleConfig(base_url=twin.url + "/v1", model=NEMOTRON)
        backend = OpenAIBatches("bulk", config, api_key="k")
        twin.batch_faults.extend(["ok", "errored", "truncated"])
        batch_id = backend.submit(calls)
        assert not backend.poll(batch_id).ended
        clock.set(clock.now() + dt.timedelta(hours=2))
        status = backend.poll(batch_id)
        assert status.ended and status.counts == {"total": 3, "completed": 2, "failed": 1}
        outcomes = collect(backend, batch_id, calls, PRICES, _validator(skill))
    ok, errored, truncated = outcomes
    assert ok.output is not None and ok.reply is not None and ok.reply.model == NEMOTRON
    # no batch discount is known for this host's model: the list price
    assert ok.cost_usd == pytest.approx(PRICES.cost(NEMOTRON, ok.reply.usage)) and ok.cost_usd > 0
    assert errored.failure is not None and errored.failure.kind == "provider_error"
    assert truncated.failure is not None and "truncated" in truncated.failure.detail


def test_a_host_without_a_batch_api_is_refused_loudly(services: Services) -> None:
    _skill, calls = _calls(services, 1)
    with OpenAITwin(batch_api=False) as twin:
        backend = OpenAIBatches("bulk", OpenAICompatibleConfig(base_url=twin.url + "/v1"), api_key="k")
        with pytest.raises(BatchUnsupported, match="no batch API"):
            backend.submit(calls)


def test_a_collected_batch_is_deleted_at_the_provider_and_one_still_running_is_not(
    services: Services,
) -> None:
    clock = ManualClock(TEST_START)
    _skill, calls = _calls(services, 2)
    with (
        AnthropicTwin(clock=clock, batch_duration=dt.timedelta(minutes=10)) as anthropic_twin,
        OpenAITwin(clock=clock, batch_duration=dt.timedelta(minutes=10)) as openai_twin,
    ):
        polish = AnthropicBatches("polish", AnthropicConfig(base_url=anthropic_twin.url, model=SONNET), "k")
        bulk = OpenAIBatches("bulk", OpenAICompatibleConfig(base_url=openai_twin.url + "/v1"), api_key="k")
        polish_id, bulk_id = polish.submit(calls), bulk.submit(calls)
        with pytest.raises(ProviderError):  # Anthropic deletes only an ended batch
            polish.discard(polish_id)
        clock.set(clock.now() + dt.timedelta(minutes=10))
        assert len(polish.results(polish_id)) == len(bulk.results(bulk_id)) == 2
        polish.discard(polish_id)
        bulk.discard(bulk_id)
        assert anthropic_twin.batches[polish_id].deleted
        with pytest.raises(ProviderError):  # its results are gone
            polish.results(polish_id)
        assert set(openai_twin.files) == openai_twin.deleted_files and len(openai_twin.files) == 2
        with pytest.raises(ProviderError):
            bulk.results(bulk_id)

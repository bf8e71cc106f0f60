"""The skill runner's fixed policy: validate on read, retry with the same input, then dead-letter."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from gtm_pipeline.domain.contracts import Usage
from gtm_pipeline.pipeline.research import fetch_sources, stored_sources
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.providers.base import ProviderError, ProviderReply, SkillRequest
from gtm_pipeline.providers.offline import OfflineProvider
from gtm_pipeline.providers.routing import ProviderRouter
from gtm_pipeline.skills.runner import SkillRunner, build_request
from gtm_pipeline.store import NewProspect
from tests.conftest import HYPOTHESIS


@dataclass
class ScriptedProvider:
    """A provider whose replies are scripted per call (records every request it saw)."""

    replies: list[str | Exception]
    name: str = "scripted"
    model: str = "scripted-1"
    seen: list[SkillRequest] = field(default_factory=list)

    def complete(self, request: SkillRequest) -> ProviderReply:
        self.seen.append(request)
        reply = self.replies[min(len(self.seen), len(self.replies)) - 1]
        if isinstance(reply, Exception):
            raise reply
        return ProviderReply(text=reply, provider=self.name, model=self.model, usage=Usage(input_tokens=10))


@pytest.fixture
def prospect(services: Services) -> str:
    candidate = next(c for c in services.corpus.candidates() if c.folder == "carepoint-clinics")
    pid = "p_" + "1" * 20
    services.store.prospects.add(
        NewProspect(pid, HYPOTHESIS, candidate.domain, candidate.name), actor="test", payload={}
    )
    fetch_sources(services, pid)
    return pid


def _run(services: Services, prospect: str, provider: ScriptedProvider):  # type: ignore[no-untyped-def]
    runner = SkillRunner(services.store, ProviderRouter({"offline": provider}))
    skill = services.catalog.skill("augment-profile")
    inputs = _inputs(services)
    return runner.run(
        skill,
        subject=prospect,
        inputs=inputs,
        sources=stored_sources(services, prospect),
        prospect_id=prospect,
    )


def _inputs(services: Services) -> dict[str, object]:
    return {
        "hypothesis": services.hypotheses[HYPOTHESIS].model_dump(mode="json", exclude={"body"}),
        "company": {"name": "CarePoint Clinics", "domain": "carepoint-clinics.example"},
        "as_of": "2026-11-20",
    }


def _valid_reply(services: Services, prospect: str) -> str:
    """What the real offline provider answers to exactly the runner's request."""
    request = build_request(
        services.catalog.skill("augment-profile"), _inputs(services), stored_sources(services, prospect)
    )
    return OfflineProvider().complete(request).text


@pytest.mark.parametrize(
    ("bad", "kind"),
    [
        ("not json at all", "invalid_json"),
        ('{"finding": {"company_name": "CarePoint"', "invalid_json"),  # truncated output
        ('{"finding": {}, "rationale": "x", "confidence": 2}', "contract"),
    ],
)
def test_invalid_output_is_retried_then_dead_lettered_with_the_raw_output(
    services: Services, prospect: str, bad: str, kind: str
) -> None:
    provider = ScriptedProvider(replies=[bad])
    outcome = _run(services, prospect, provider)
    assert not outcome.ok
    assert len(provider.seen) == 2  # fixed policy: max_attempts of the skill, same request each time
    assert provider.seen[0] == provider.seen[1]  # never a re-prompt with the error fed back
    assert outcome.failure is not None and outcome.failure.kind == kind
    dead = services.store.dead_letters.open()
    assert [d["reason_kind"] for d in dead] == [kind]
    journal = services.store.journal.entries(prospect)
    assert journal[-1].kind == "dead_letter" and journal[-1].payload["reason_kind"] == kind


def test_a_quote_not_in_the_sources_fails_the_evidence_check(services: Services, prospect: str) -> None:
    data = json.loads(_valid_reply(services, prospect))
    data["evidence"][0]["quote"] = "CarePoint signed a three-year contract with us."
    outcome = _run(services, prospect, ScriptedProvider(replies=[json.dumps(data)]))
    assert outcome.failure is not None and outcome.failure.kind == "evidence"
    assert "does not occur" in outcome.failure.detail


def test_a_made_up_source_fails_the_evidence_check(services: Services, prospect: str) -> None:
    data = json.loads(_valid_reply(services, prospect))
    data["evidence"][0]["source_id"] = "carepoint-clinics/internal-memo"
    outcome = _run(services, prospect, ScriptedProvider(replies=[json.dumps(data)]))
    assert outcome.failure is not None and "was not fetched" in outcome.failure.detail


def test_a_retry_that_succeeds_records_the_attempt(services: Services, prospect: str) -> None:
    good = _valid_reply(services, prospect)
    outcome = _run(services, prospect, ScriptedProvider(replies=["oops", good]))
    assert outcome.ok and outcome.attempts == 2
    assert outcome.result is not None and outcome.result.producer.attempt == 2
    assert outcome.result.evidence[0].url and outcome.result.evidence[0].url.startswith(
        "https://carepoint-clinics"
    )
    assert services.store.dead_letters.open() == []


def test_provider_errors_are_dead_lettered_not_raised(services: Services, prospect: str) -> None:
    provider = ScriptedProvider(replies=[ProviderError("503 from upstream", retryable=True)])
    outcome = _run(services, prospect, provider)
    assert outcome.failure is not None and outcome.failure.kind == "provider_error"
    assert outcome.dead_letter_id is not None


def test_an_open_dead_letter_is_not_resent_on_the_next_run(services: Services, prospect: str) -> None:
    _run(services, prospect, ScriptedProvider(replies=["bad"]))
    again = ScriptedProvider(replies=["bad"])
    outcome = _run(services, prospect, again)
    assert again.seen == [] and outcome.reused  # it waits for the operator, no new spend
    assert len(services.store.dead_letters.open()) == 1


def test_an_identical_call_reuses_the_journaled_result(services: Services, prospect: str) -> None:
    first = _run(services, prospect, ScriptedProvider(replies=[_valid_reply(services, prospect)]))
    second_provider = ScriptedProvider(replies=["never called"])
    second = _run(services, prospect, second_provider)
    assert second_provider.seen == [] and second.reused
    assert second.result == first.result and second.journal_entry_id == first.journal_entry_id


def test_a_provider_busy_past_the_routers_wait_makes_the_call_wait_not_a_dead_letter(
    services: Services,
) -> None:
    """A 429 that outlasts the router's wait is not a failure: no dead letter (which would block every
    later run), a journaled wait, one escalation a day, and the next run calls again."""

    class Busy:
        name, model, calls = "offline", "busy-1", 0

        def complete(self, request: object) -> ProviderReply:
            self.calls += 1
            raise ProviderError("429", retryable=True, kind="rate_limit", retry_after=61.0)

    busy = Busy()
    runner = SkillRunner(services.store, ProviderRouter({"offline": busy}, sleep=lambda s: None))  # type: ignore[dict-item]
    skill = services.catalog.skill("augment-profile")
    call = {"subject": "p_00000000000000000001", "inputs": {"company": "x"}, "sources": []}
    outcome = runner.run(skill, **call)  # type: ignore[arg-type]
    assert outcome.waiting and outcome.dead_letter_id is None and not services.store.dead_letters.open()
    assert [e.kind for e in services.store.escalations.open()] == ["provider_busy"]
    again = runner.run(skill, **call)  # type: ignore[arg-type]
    assert again.waiting and busy.calls == 2  # asked again on the next run, not a reused verdict
    assert [e.kind for e in services.store.escalations.open()] == ["provider_busy"]  # once a day

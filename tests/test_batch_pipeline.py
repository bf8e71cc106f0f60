"""Deferred skill calls end to end: a run that asks for batching queues its calls instead of making
them, the ``skill_batches`` sensor submits them to the twins through the official SDKs, collects
them (checked, priced at the batch discount, journaled under the direct call's key) and requests the
prospects' runs, which reuse the results with no call. Failures follow the direct path's policy."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from gtm_pipeline.config import STARTER, load_settings
from gtm_pipeline.defs.batches import skill_batches
from gtm_pipeline.defs.names import BATCH_TAG, batch_requested
from gtm_pipeline.defs.partitions import PROSPECTS
from gtm_pipeline.defs.resources import gtm_resource
from gtm_pipeline.domain.clock import ManualClock
from gtm_pipeline.domain.ids import prospect_id
from gtm_pipeline.pipeline.batch_queue import BatchQueue
from gtm_pipeline.pipeline.draft import build_context_pack, draft_first_touch
from gtm_pipeline.pipeline.privacy import erase
from gtm_pipeline.pipeline.research import augment
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.providers.batches import request_from_json
from gtm_pipeline.providers.pricing import PriceTable
from gtm_pipeline.skills.runner import BATCHED, build_request
from gtm_pipeline.store import NewProspect
from gtm_pipeline.store.skill_batches import DEAD, DIRECT, DONE, QUEUED, SUBMITTED, SkillBatches
from gtm_pipeline.twins.llm import AnthropicTwin, OpenAITwin
from gtm_pipeline.twins.server import TwinSettings
from tests.conftest import TEST_START

SONNET = "claude-sonnet-4-6"
PRICES = PriceTable.load(STARTER / "models.yaml")


@dataclass
class Twins:
    bulk: OpenAITwin
    polish: AnthropicTwin
    clock: ManualClock  # the twins' clock: a batch ends ``batch_duration`` after it is created


def _skills(tmp_path: Path, groups: tuple[str, ...]) -> Path:
    """A private copy of the starter skills with ``batch: true`` in ``groups``' GROUP.md."""
    skills = tmp_path / "skills"
    shutil.copytree(STARTER / "skills", skills)
    for group in groups:
        path = skills / group / "GROUP.md"
        path.write_text(path.read_text().replace("\nmode:", "\nbatch: true\nmode:", 1))
    return skills


@contextmanager
def _twins(monkeypatch: pytest.MonkeyPatch, skills: Path, *, bulk_batch_api: bool = True) -> Iterator[Twins]:
    """Both LLM twins wired in as the bulk and polish families, with the skills at ``skills``."""
    monkeypatch.setenv("GTM_SKILLS_DIR", str(skills))
    clock = ManualClock(TEST_START)
    with (
        OpenAITwin(TwinSettings(expected_key="bulk-key"), clock=clock, batch_api=bulk_batch_api) as bulk,
        AnthropicTwin(TwinSettings(expected_key="polish-key"), clock=clock) as polish,
    ):
        monkeypatch.setenv("GTM_BULK_API_KEY", "bulk-key")
        monkeypatch.setenv("GTM_BULK_BASE_URL", bulk.url + "/v1")
        monkeypatch.setenv("ANTHROPIC_API_KEY", "polish-key")
        monkeypatch.setenv("GTM_POLISH_BASE_URL", polish.url)
        monkeypatch.setenv("GTM_POLISH_MODEL", SONNET)
        yield Twins(bulk, polish, clock)


WRITING = ("writing-copilot", "writing-dark-factory")


@pytest.fixture
def twins(gtm_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Twins]:
    """The writing groups batch (polish: the Anthropic twin); research calls directly."""
    with _twins(monkeypatch, _skills(tmp_path, WRITING)) as found:
        yield found


@pytest.fixture
def research_twins(gtm_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Twins]:
    """Research batches too (bulk: the OpenAI-compatible twin's ``/v1/batches``)."""
    with _twins(monkeypatch, _skills(tmp_path, (*WRITING, "research"))) as found:
        yield found


@pytest.fixture
def no_batch_api_twins(gtm_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Twins]:
    """Research batches, but the bulk host has no batch API (vLLM, NVIDIA's hosted catalog)."""
    with _twins(monkeypatch, _skills(tmp_path, (*WRITING, "research")), bulk_batch_api=False) as found:
        yield found


def _services() -> Services:
    return Services.from_settings(load_settings(), clock=ManualClock(TEST_START))


def _seed(services: Services, count: int) -> list[str]:
    """``count`` sample companies as prospects with their contact and stored sources (the corpus'
    deliberately broken company left out: it is the dead-letter path's, tested on its own)."""
    candidates = [c for c in services.corpus.candidates() if c.folder != "sparrow-health"][:count]
    slug = next(iter(services.hypotheses))
    ids = []
    for candidate in candidates:
        pid = prospect_id(candidate.domain)
        contact = candidate.contact
        services.store.prospects.add(
            NewProspect(
                pid,
                slug,
                candidate.domain,
                candidate.name,
                contact_name=contact.name if contact else None,
                contact_email=contact.email if contact else None,
                contact_role=contact.role if contact else None,
                contact_timezone=contact.timezone if contact else None,
            ),
            actor="test",
            payload={},
        )
        for doc in services.corpus.fetch(candidate.domain):
            services.store.artifacts.add(
                prospect_id=pid,
                kind="raw_source",
                content=doc.text,
                source_id=doc.source_id,
                url=doc.url,
                source_kind=doc.kind,
                published_on=doc.published_on,
                meta={"title": doc.title, "retrieved_at": doc.retrieved_at.isoformat()},
            )
        ids.append(pid)
    return ids


def _qualified(services: Services, count: int) -> list[str]:
    """Prospects researched directly (research does not batch here) and qualified: draftable."""
    ids = _seed(services, count)
    return [pid for pid in ids if augment(services, pid).state == "qualified"]


def _job(name: str) -> dg.JobDefinition:
    from gtm_pipeline.definitions import defs as lazy_defs

    definitions = lazy_defs() if not isinstance(lazy_defs, dg.Definitions) else lazy_defs
    return definitions.resolve_job_def(name)


def test_a_deferred_draft_goes_out_in_a_batch_and_the_requested_run_reuses_it_at_half_price(
    twins: Twins,
) -> None:
    services = _services()
    pid = _qualified(services, 4)[0]
    services.runner.batch = True  # what a run tagged gtm/batch=1 does
    before = twins.polish.requests
    draft, pack = draft_first_touch(services, pid), build_context_pack(services, pid)
    assert (draft.status, draft.detail) == ("waiting", BATCHED)
    assert pack.status in ("waiting", "skipped")  # a context pack only where no address is known
    assert twins.polish.requests == before  # deferred: not one call
    again = draft_first_touch(services, pid)  # the same call queued twice is one item
    items = SkillBatches(services.store)
    assert again.status == "waiting" and items.counts() == {QUEUED: 1 + (pack.status == "waiting")}
    queued = [e for e in services.store.journal.entries(pid) if e.kind == "batch_queued"]
    assert len(queued) == 1 + (pack.status == "waiting")
    custom_id = queued[0].payload["custom_id"]
    prospect = services.store.prospects.get(pid)
    assert prospect is not None and prospect.company_domain.split(".")[0] not in custom_id
    services.close()

    settings = load_settings()
    resources = {"gtm": gtm_resource(settings)}
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(PROSPECTS, [pid])
        with dg.build_sensor_context(instance=instance, resources=resources) as context:
            first = skill_batches(context)  # submits: nothing has settled yet
        assert isinstance(first, dg.SkipReason) and len(twins.polish.batches) == 1
        with dg.build_sensor_context(instance=instance, resources=resources) as context:
            second = skill_batches(context)  # the batch ended (no duration on the twin): collected
        assert isinstance(second, dg.SensorResult)
        [run_request] = second.run_requests or []
        assert run_request.partition_key == pid and batch_requested(run_request.tags)
        # collected, the batch is deleted at the provider: it quotes the prompts' sources and contact
        assert [b.deleted for b in twins.polish.batches.values()] == [True]
        with dg.build_sensor_context(instance=instance, resources=resources) as context:
            assert isinstance(skill_batches(context), dg.SkipReason)  # requested once
        calls = twins.polish.requests + twins.bulk.requests
        run = _job("prospect_pipeline_job").execute_in_process(
            instance=instance,
            partition_key=run_request.partition_key,
            tags=dict(run_request.tags),
            resources=resources,
        )
        assert run.success
        assert twins.polish.requests + twins.bulk.requests == calls  # reused: no call at all

    services = _services()
    try:
        assert services.store.artifacts.of_kind(pid, "draft")
        assert items.counts() == {DONE: 1 + (pack.status == "waiting")}
        settled = items.get(custom_id)
        assert settled is not None and settled.request == {}  # the prompt is not kept once settled
        results = [e for e in services.store.journal.entries(pid) if e.kind == "skill_result"]
        batched = [e for e in results if e.payload.get("batch_id")]
        assert len(batched) == 1 + (pack.status == "waiting")
        polish = [r for r in services.store.spend.rows() if r["provider"] == "polish"]
        assert len(polish) == 1 and polish[0]["calls"] == len(batched)
        list_price = sum(
            PRICES.cost(SONNET, _usage(e.payload["result"]["producer"]["usage"])) for e in batched
        )
        assert polish[0]["cost_usd"] == pytest.approx(list_price / 2) and list_price > 0
        assert all(e.payload["result"]["producer"]["cost_usd"] > 0 for e in batched)
    finally:
        services.close()


def _usage(data: dict[str, int]):  # type: ignore[no-untyped-def]
    from gtm_pipeline.domain.contracts import Usage

    return Usage.model_validate(data)


def test_a_batch_item_that_keeps_failing_is_retried_in_the_next_batch_then_dead_lettered(
    twins: Twins,
) -> None:
    services = _services()
    try:
        pid = _qualified(services, 4)[0]
        services.runner.batch = True
        assert draft_first_touch(services, pid).status == "waiting"
        twins.polish.batch_faults.extend(["malformed_json", "bad_quote"])
        queue = BatchQueue(services)
        assert sum(queue.run_pass().submitted.values()) == 1
        second = queue.run_pass()  # collected: invalid JSON, queued again and resubmitted at once
        assert second.settled == {"retry": 1} and sum(second.submitted.values()) == 1
        third = queue.run_pass()
        assert third.settled == {DEAD: 1}
        [item] = [
            SkillBatches(services.store).get(e.payload["custom_id"]) for e in _batch_queued(services, pid)
        ]
        assert item is not None and item.status == DEAD and item.attempts == 2
        skill = services.catalog.skill("draft-first-touch")
        dead = services.store.dead_letters.find_open(
            prospect_id=pid, skill=skill.name, skill_version=skill.version, input_hash=item.input_hash
        )
        assert dead is not None and dead["reason_kind"] == "evidence" and dead["attempts"] == 2
        assert dead["raw_output"]  # the raw output is kept for the operator, as for a direct call
        assert any(e.kind == "dead_letter" for e in services.store.journal.entries(pid))
        assert any(e.kind == "dead_letter" and e.subject == pid for e in services.store.escalations.open())
        # both failed results were paid for, at the batch price
        polish = [r for r in services.store.spend.rows() if r["provider"] == "polish"]
        assert polish[0]["calls"] == 2 and polish[0]["cost_usd"] > 0
        # the prospect's next run (direct, no batch) sees the dead letter and calls nothing
        services.runner.batch = False
        calls = twins.polish.requests
        assert draft_first_touch(services, pid).status == "dead_letter"
        assert twins.polish.requests == calls
    finally:
        services.close()


def _batch_queued(services: Services, pid: str) -> list:  # type: ignore[type-arg]
    return [e for e in services.store.journal.entries(pid) if e.kind == "batch_queued"]


def test_a_host_without_a_batch_api_gets_its_calls_made_directly_escalated_and_journaled(
    no_batch_api_twins: Twins,
) -> None:
    twins = no_batch_api_twins
    services = _services()
    try:
        pids = _seed(services, 2)
        services.runner.batch = True
        assert [augment(services, pid).detail for pid in pids] == [BATCHED, BATCHED]
        assert twins.bulk.requests == 0
        report = BatchQueue(services).run_pass()
        assert report.direct == 2 and not report.submitted
        assert SkillBatches(services.store).counts() == {DIRECT: 2}
        [escalation] = [e for e in services.store.escalations.open() if e.kind == "batch_unsupported"]
        assert escalation.subject == "bulk" and "no batch API" in escalation.detail
        for pid in pids:
            kinds = [e.kind for e in services.store.journal.entries(pid)]
            assert "batch_direct" in kinds
        assert [pid for _, pid in SkillBatches(services.store).settled_unrequested(10)] == pids
        # the run the sensor requests (batch tag and all) calls directly now
        requests = twins.bulk.requests
        states = [augment(services, pid).state for pid in pids]
        assert twins.bulk.requests > requests and all(s != "researching" for s in states)
        assert all(services.store.artifacts.of_kind(pid, "profile") for pid in pids)
    finally:
        services.close()


def test_a_batch_still_running_is_polled_and_collected_once_it_ends_on_the_twins_clock(
    research_twins: Twins,
) -> None:
    twins = research_twins
    import datetime as dt

    twins.bulk.batch_duration = dt.timedelta(minutes=40)
    services = _services()
    try:
        pids = _seed(services, 3)
        services.runner.batch = True
        for pid in pids:
            assert augment(services, pid).status == "waiting"
        queue = BatchQueue(services)
        assert sum(queue.run_pass().submitted.values()) == 3
        running = queue.run_pass()
        assert running.pending == 1 and not running.settled
        assert SkillBatches(services.store).counts() == {SUBMITTED: 3}
        twins.clock.set(twins.clock.now() + dt.timedelta(minutes=40))
        assert not twins.bulk.deleted_files
        assert queue.run_pass().settled == {DONE: 3}
        # the input, output (and error) files are deleted at the host once collected
        assert twins.bulk.files and set(twins.bulk.files) == twins.bulk.deleted_files
        requests = twins.bulk.requests
        assert all(augment(services, pid).status in ("done", "escalated") for pid in pids)
        assert twins.bulk.requests == requests
    finally:
        services.close()


def test_two_sensor_evaluations_at_once_submit_each_queued_call_once(research_twins: Twins) -> None:
    twins = research_twins
    services = _services()
    try:
        pids = _seed(services, 6)
        services.runner.batch = True
        for pid in pids:
            augment(services, pid)
    finally:
        services.close()
    settings = load_settings()
    start = threading.Barrier(2)
    results: list[object] = []
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(PROSPECTS, pids)

        def evaluate() -> None:
            # each evaluation has its own resource, so its own store and connections: two processes
            resources = {"gtm": gtm_resource(settings)}
            with dg.build_sensor_context(instance=instance, resources=resources) as context:
                start.wait()
                results.append(skill_batches(context))

        threads = [threading.Thread(target=evaluate) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(results) == 2 and all(isinstance(r, dg.SkipReason) for r in results)
    [batch] = twins.bulk.batches.values()  # one batch, holding each call once
    assert len(batch.results) == 6
    services = _services()
    try:
        assert SkillBatches(services.store).counts() == {SUBMITTED: 6}
    finally:
        services.close()


def test_the_stored_request_is_the_direct_calls_and_an_erasure_deletes_it(research_twins: Twins) -> None:
    services = _services()
    try:
        [pid, other] = _seed(services, 2)
        services.runner.batch = True
        augment(services, pid)
        augment(services, other)
        items = SkillBatches(services.store)
        [entry] = _batch_queued(services, pid)
        item = items.get(entry.payload["custom_id"])
        assert item is not None and item.prospect_id == pid
        stored = request_from_json(item.request)
        skill = services.catalog.skill("augment-profile")
        assert stored == build_request(skill, stored.inputs, stored.sources)
        report = erase(
            services.store, pid, reason="test", now=services.clock.now(), response_days=30, pages=None
        )
        assert report.counts["skill_batch_items"] == 1  # the erasure's own path, and its evidence
        assert items.get(entry.payload["custom_id"]) is None and items.counts() == {QUEUED: 1}
    finally:
        services.close()


def test_a_run_tagged_for_batches_queues_its_drafts_without_a_call(twins: Twins) -> None:
    """The tag reaches the runner through ``steps.run_step``: a tagged run of the prospect job makes no
    polish call and queues its drafts instead."""
    services = _services()
    pid = _qualified(services, 4)[0]
    services.close()
    resources = {"gtm": gtm_resource(load_settings())}
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(PROSPECTS, [pid])
        before = twins.polish.requests
        run = _job("prospect_pipeline_job").execute_in_process(
            instance=instance, partition_key=pid, tags={BATCH_TAG: "1"}, resources=resources
        )
        assert run.success and twins.polish.requests == before
    services = _services()
    try:
        assert services.store.skill_batches.counts().get(QUEUED, 0) >= 1
    finally:
        services.close()


def test_only_a_run_tagged_for_batches_defers() -> None:
    assert batch_requested({BATCH_TAG: "1"}) and batch_requested({BATCH_TAG: "true"})
    assert not batch_requested({}) and not batch_requested({BATCH_TAG: "0"})

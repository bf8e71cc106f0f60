"""Deferred skill calls end to end: a run that asks for batching queues its calls instead of making
them, the ``skill_batches`` sensor submits them to the twins through the official SDKs, collects
them (checked, priced at the batch discount, journaled under the direct call's key) and requests the
prospects' runs, which reuse the results with no call. Failures follow the direct path's policy."""

from __future__ import annotations

import datetime as dt
import os
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
from gtm_pipeline.pipeline.research import augment, keep_source
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.providers.batches import request_from_json
from gtm_pipeline.providers.pricing import PriceTable
from gtm_pipeline.skills.runner import BATCHED, build_request
from gtm_pipeline.store import NewProspect
from gtm_pipeline.store.skill_batches import (
    DEAD,
    DIRECT,
    DONE,
    QUEUED,
    STALE,
    SUBMIT_UNKNOWN,
    SUBMITTED,
    BatchItem,
    SkillBatches,
    skill_batch_items,
)
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
            keep_source(services, pid, doc, {}, run_id=None)
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
            again = skill_batches(context)  # not run yet: the same request, which Dagster launches once
        assert isinstance(again, dg.SensorResult)
        assert [r.run_key for r in again.run_requests or []] == [run_request.run_key]
        calls = twins.polish.requests + twins.bulk.requests
        run = _job("prospect_pipeline_job").execute_in_process(
            instance=instance,
            partition_key=run_request.partition_key,
            tags=dict(run_request.tags),
            resources=resources,
        )
        assert run.success
        assert twins.polish.requests + twins.bulk.requests == calls  # reused: no call at all
        with dg.build_sensor_context(instance=instance, resources=resources) as context:
            assert isinstance(skill_batches(context), dg.SkipReason)  # the run marked its items

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


# ---------------------------------------------------------------------------- review fixes


def _draft_items(services: Services, pid: str) -> list[BatchItem]:
    items = SkillBatches(services.store)
    found = [items.get(e.payload["custom_id"]) for e in _batch_queued(services, pid)]
    return [i for i in found if i is not None and i.skill == "draft-first-touch"]


def test_a_stale_item_gets_its_prospect_run_again_which_queues_the_call_under_the_new_skill(
    twins: Twins,
) -> None:
    """B1: the skill changed while its batch ran: the answer is dropped (stale), and the prospect is
    still requested, so its tagged run queues the call again under the skill's new code."""
    services = _services()
    pid = _qualified(services, 4)[0]
    services.runner.batch = True
    assert draft_first_touch(services, pid).detail == BATCHED
    queue = BatchQueue(services)
    assert sum(queue.run_pass().submitted.values()) >= 1
    services.close()
    skill_md = Path(os.environ["GTM_SKILLS_DIR"]) / "writing-copilot" / "draft-first-touch" / "SKILL.md"
    skill_md.write_text(skill_md.read_text() + "\nKeep it to three sentences.\n")
    services = _services()
    try:
        items = SkillBatches(services.store)
        [old] = _draft_items(services, pid)
        assert BatchQueue(services).run_pass().settled[STALE] >= 1
        assert (items.get(old.custom_id) or old).status == STALE
        assert pid in [p for _, p in items.settled_unrequested(10)]  # requested, not stranded
        services.runner.batch = True  # the requested run carries gtm/batch=1
        assert draft_first_touch(services, pid).detail == BATCHED
        new = [i for i in _draft_items(services, pid) if i.custom_id != old.custom_id]
        assert len(new) == 1 and new[0].status == QUEUED and new[0].code_version != old.code_version
    finally:
        services.close()


def test_a_direct_run_takes_a_still_queued_call_and_the_batch_never_sends_it(twins: Twins) -> None:
    """B2: an untagged run meeting a call a batch run queued calls it once, itself; no batch pays
    for it again."""
    services = _services()
    try:
        pid = _qualified(services, 4)[0]
        services.runner.batch = True
        assert draft_first_touch(services, pid).detail == BATCHED
        services.runner.batch = False  # e.g. the conversation sensor's run, or an operator's single run
        before = twins.polish.requests
        assert draft_first_touch(services, pid).status != "waiting"
        assert twins.polish.requests - before == 1  # called directly, once
        [item] = _draft_items(services, pid)
        assert item.status == DIRECT and item.request == {}
        assert item.run_requested_at is not None  # the run that took it used it: nothing to request
        kinds = [e.kind for e in services.store.journal.entries(pid)]
        assert "batch_direct" in kinds
        BatchQueue(services).run_pass()
        sent = {line["custom_id"] for b in twins.polish.batches.values() for line in b.results}
        assert item.custom_id not in sent
        results = [e for e in services.store.journal.entries(pid) if e.kind == "skill_result"]
        assert not [e for e in results if e.payload.get("batch_id")]
    finally:
        services.close()


def test_a_direct_run_meeting_a_submitted_call_waits_for_the_batch(twins: Twins) -> None:
    services = _services()
    try:
        pid = _qualified(services, 4)[0]
        services.runner.batch = True
        assert draft_first_touch(services, pid).detail == BATCHED
        assert sum(BatchQueue(services).run_pass().submitted.values()) >= 1
        services.runner.batch = False
        before = twins.polish.requests
        waiting = draft_first_touch(services, pid)
        assert (waiting.status, waiting.detail) == ("waiting", BATCHED)
        assert twins.polish.requests == before  # no second payment
    finally:
        services.close()


def test_a_batch_result_for_a_call_already_answered_directly_is_paid_but_not_journaled_twice(
    twins: Twins, monkeypatch: pytest.MonkeyPatch
) -> None:
    """B2, collect side: should a direct call answer a call that is in a batch anyway (a run that
    read the queue before the call was queued), the batch's answer is paid (spend) and dropped."""
    from gtm_pipeline.skills.runner import SkillRunner

    services = _services()
    try:
        pid = _qualified(services, 4)[0]
        services.runner.batch = True
        assert draft_first_touch(services, pid).detail == BATCHED
        queue = BatchQueue(services)
        assert sum(queue.run_pass().submitted.values()) >= 1
        monkeypatch.setattr(SkillRunner, "_batched_elsewhere", lambda *a, **k: None, raising=False)  # a race
        services.runner.batch = False
        assert draft_first_touch(services, pid).status != "waiting"
        report = queue.run_pass()
        assert report.settled["duplicate"] == 1
        [item] = _draft_items(services, pid)
        assert item.status == DONE
        results = [e for e in services.store.journal.entries(pid) if e.kind == "skill_result"]
        drafts = [e for e in results if e.payload["result"]["producer"]["skill"] == "draft-first-touch"]
        assert len(drafts) == 1 and not drafts[0].payload.get("batch_id")
        polish = [r for r in services.store.spend.rows() if r["provider"] == "polish"]
        assert sum(r["calls"] for r in polish) >= 2  # the direct call and the batch item: both paid
    finally:
        services.close()


def test_a_prospect_erased_while_its_batch_is_read_gets_no_result_written_back(
    twins: Twins, monkeypatch: pytest.MonkeyPatch
) -> None:
    """R5: an erasure between the claim of a batch and the recording of its results: the answer (which
    quotes the prospect) is dropped; the spend (no personal data) is recorded, it was paid."""
    import gtm_pipeline.pipeline.batch_queue as batch_queue

    services = _services()
    try:
        pid = _qualified(services, 4)[0]
        services.runner.batch = True
        assert draft_first_touch(services, pid).detail == BATCHED
        queue = BatchQueue(services)
        assert sum(queue.run_pass().submitted.values()) >= 1
        original = batch_queue.collect

        def collect_then_erase(*args, **kwargs):  # type: ignore[no-untyped-def]
            outcomes = original(*args, **kwargs)
            erase(services.store, pid, reason="test", now=services.clock.now(), response_days=30, pages=None)
            return outcomes

        monkeypatch.setattr(batch_queue, "collect", collect_then_erase)
        report = queue.run_pass()
        assert report.settled["erased"] >= 1 and not report.settled[DONE]
        drafts = [
            e
            for e in services.store.journal.entries(pid)
            if e.kind == "skill_result" and e.payload.get("batch_id")
        ]
        assert drafts == []
        polish = [r for r in services.store.spend.rows() if r["provider"] == "polish"]
        assert polish and polish[0]["calls"] >= 1
    finally:
        services.close()


def test_a_pass_stops_at_its_time_budget_and_the_next_one_finishes(
    research_twins: Twins, monkeypatch: pytest.MonkeyPatch
) -> None:
    """B3: a pass runs inside a sensor tick (60 s at most): past its budget it claims nothing more,
    and what it claimed but did not reach goes back for the next pass."""
    import gtm_pipeline.pipeline.batch_queue as batch_queue

    services = _services()
    try:
        pids = _seed(services, 3)
        services.runner.batch = True
        for pid in pids:
            assert augment(services, pid).status == "waiting"
        queue = BatchQueue(services)
        assert queue.run_pass(budget_s=0).submitted == {}  # no time: nothing claimed, all still queued
        assert SkillBatches(services.store).counts() == {QUEUED: 3}
        assert sum(queue.run_pass().submitted.values()) == 3
        ticks = iter(range(0, 10_000, 10))  # each look at the monotonic clock: 10 s later
        monkeypatch.setattr(batch_queue, "_monotonic", lambda: float(next(ticks)))
        partial = queue.run_pass(budget_s=25)
        assert 0 < sum(partial.settled.values()) < 3 and partial.pending == 1
        counts = SkillBatches(services.store).counts()
        assert counts.get(SUBMITTED, 0) == 3 - sum(partial.settled.values())  # released, not stuck
        monkeypatch.undo()
        assert sum(queue.run_pass().settled.values()) == counts[SUBMITTED]
        assert SkillBatches(services.store).counts() == {DONE: 3}
    finally:
        services.close()


def test_a_batch_create_whose_answer_is_lost_is_held_not_sent_again(twins: Twins) -> None:
    """R1: the batch was made but the answer lost (a 500): no SDK retry, no re-queue (each would make
    another paid batch holding the prompts); the calls are held, the operator escalated, and a direct
    run meeting them waits instead of paying a third time."""
    services = _services()
    try:
        pid = _qualified(services, 4)[0]
        services.runner.batch = True
        assert draft_first_touch(services, pid).detail == BATCHED
        twins.polish.lose_batch_answers = 3
        queue = BatchQueue(services)
        report = queue.run_pass()
        assert len(twins.polish.batches) == 1  # one create at the provider, not retried by the SDK
        assert report.unknown >= 1 and not report.submitted and not report.released
        [item] = _draft_items(services, pid)
        assert item.status == SUBMIT_UNKNOWN
        failed = [e for e in services.store.escalations.open() if e.kind == "batch_failed"]
        assert failed and "submit_unknown" in failed[0].detail
        queue.run_pass()
        assert len(twins.polish.batches) == 1  # held: never submitted again by a pass
        services.runner.batch = False
        before = twins.polish.requests
        assert draft_first_touch(services, pid).detail == BATCHED
        assert twins.polish.requests == before
        # the operator checked the provider: no batch to wait for; requeued, it goes out once
        assert SkillBatches(services.store).requeue_unknown([item.id]) == 1
        twins.polish.lose_batch_answers = 0
        assert sum(queue.run_pass().submitted.values()) >= 1
    finally:
        services.close()


def test_an_openai_batch_create_that_fails_deletes_its_uploaded_input(research_twins: Twins) -> None:
    twins = research_twins
    services = _services()
    try:
        [pid] = _seed(services, 1)
        services.runner.batch = True
        assert augment(services, pid).detail == BATCHED
        twins.bulk.lose_batch_answers = 3
        report = BatchQueue(services).run_pass()
        assert len(twins.bulk.batches) == 1 and report.unknown == 1
        inputs = {f for f, (name, _) in twins.bulk.files.items() if name == "batch.jsonl"}
        assert inputs and inputs <= twins.bulk.deleted_files  # the prompts are not left at the host
    finally:
        services.close()


def test_a_claim_taken_over_during_a_create_is_escalated_with_the_batch_id(
    twins: Twins, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gtm_pipeline.providers.batches import AnthropicBatches

    services = _services()
    try:
        pid = _qualified(services, 4)[0]
        services.runner.batch = True
        assert draft_first_touch(services, pid).detail == BATCHED
        original = AnthropicBatches.submit

        def slow_submit(self, calls):  # type: ignore[no-untyped-def]
            batch_id = original(self, calls)
            with services.store.writing() as c:  # another pass took the claims over meanwhile
                c.execute(skill_batch_items.update().values(claimed_by="another-pass"))
            return batch_id

        monkeypatch.setattr(AnthropicBatches, "submit", slow_submit)
        report = BatchQueue(services).run_pass()
        [batch_id] = report.submitted
        assert report.submitted[batch_id] == 0
        failed = [e for e in services.store.escalations.open() if e.kind == "batch_failed"]
        assert any(batch_id in e.detail for e in failed)
    finally:
        services.close()


def test_submission_stops_at_the_groups_daily_spend_cap(twins: Twins, tmp_path: Path) -> None:
    """B4: the cap is checked when a batch goes out, on each call's estimate (prompt characters / 4 at
    the input price, max_tokens at the output price, at the batch discount): what does not fit waits
    in the queue, escalated and journaled as a direct call over the cap is."""
    services = _services()
    pids = _qualified(services, 4)[:3]
    services.runner.batch = True
    for pid in pids:
        assert draft_first_touch(services, pid).detail == BATCHED
    queue = BatchQueue(services)
    items = SkillBatches(services.store)
    queued = [i for pid in pids for i in _draft_items(services, pid)]
    groups = {i.group_name for i in queued}
    estimate = max(queue._estimate(queue.backend(i.provider), i) for i in queued)  # type: ignore[arg-type]
    services.close()
    assert estimate > 0
    for group in groups:  # room for one call of each group today, not two
        path = Path(os.environ["GTM_SKILLS_DIR"]) / group / "GROUP.md"
        cap = f"\ndaily_spend_cap_usd: {estimate * 1.5:.6f}\nmode:"
        path.write_text(path.read_text().replace("\nmode:", cap, 1))
    twins.polish.batch_duration = dt.timedelta(hours=1)  # still running at the next pass
    services = _services()
    try:
        queue = BatchQueue(services)
        report = queue.run_pass()
        sent = sum(report.submitted.values())
        drafts = [i for pid in pids for i in _draft_items(services, pid)]
        assert 1 <= sent <= len(groups) and report.capped >= 1
        assert sum(1 for i in drafts if i.status == QUEUED) == len(drafts) - sent
        assert all(i.est_cost_usd for i in drafts if i.status == SUBMITTED)
        assert [e for e in services.store.escalations.open() if e.kind == "spend_cap"]
        waits = [e for pid in pids for e in services.store.journal.entries(pid) if e.kind == "spend_cap_wait"]
        assert len(waits) == len(drafts) - sent
        assert sum(queue.run_pass().submitted.values()) == 0  # the batch's estimate still counts
        assert items.counts()[QUEUED] == len(drafts) - sent
    finally:
        services.close()


def test_the_sensor_leaves_marking_to_the_run_except_for_rows_with_no_prospect(twins: Twins) -> None:
    """B3: a tick whose run requests Dagster drops (a tick past its timeout) must not strand the
    prospects: the sensor marks nothing a run should; a row naming no prospect has no run to wait
    for and is marked at once, or it would come back on every tick."""
    services = _services()
    try:
        items = SkillBatches(services.store)
        for custom_id in ("sk_noprospect", "sk_prospect"):
            items.enqueue(
                custom_id=custom_id,
                prospect_id=None if custom_id == "sk_noprospect" else "p_unregistered",
                subject="h_1",
                skill="draft-first-touch",
                skill_version="1",
                code_version="c",
                group="writing-copilot",
                provider="polish",
                input_hash="0" * 64,
                request={},
            )
        claimed = items.claim_queued("polish", "test", limit=5)
        items.mark_submitted([i.id for i in claimed], "test", "batch_x")
        for item in items.claim_batch("batch_x", "test"):
            items.settle(item.id, "test", DONE)
    finally:
        services.close()
    resources = {"gtm": gtm_resource(load_settings())}
    with (
        dg.DagsterInstance.ephemeral() as instance,
        dg.build_sensor_context(instance=instance, resources=resources) as context,
    ):
        assert isinstance(skill_batches(context), dg.SkipReason)
    services = _services()
    try:
        assert [p for _, p in SkillBatches(services.store).settled_unrequested(10)] == ["p_unregistered"]
    finally:
        services.close()

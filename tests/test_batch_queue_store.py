"""The deferred calls' table: queueing is idempotent, and every move is a claim by one pass (a pass
whose claim lapsed and was taken over changes nothing)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from gtm_pipeline.domain.clock import ManualClock
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.store.skill_batches import (
    COLLECTING,
    DIRECT,
    DONE,
    QUEUED,
    STALE,
    SUBMIT_LEASE,
    SUBMIT_UNKNOWN,
    SUBMITTED,
    SkillBatches,
)


def _queue(items: SkillBatches, n: int, provider: str = "polish", prospect: str = "p_a") -> list[str]:
    ids = []
    for i in range(n):
        custom_id = f"sk_{provider}{i:04d}"
        items.enqueue(**_call(custom_id, provider, prospect))
        ids.append(custom_id)
    return ids


def _call(custom_id: str, provider: str, prospect: str) -> dict[str, Any]:
    return {
        "custom_id": custom_id,
        "prospect_id": prospect,
        "subject": prospect,
        "skill": "draft-first-touch",
        "skill_version": "1.0.0",
        "code_version": "draft-first-touch@1.0.0+abcdef12",
        "group": "writing-copilot",
        "provider": provider,
        "input_hash": "0" * 64,
        "request": {"inputs": {"contact": {"first_name": "Ada"}}},
    }


def test_the_same_call_queued_twice_is_one_row(services: Services) -> None:
    items = SkillBatches(services.store)
    first = items.enqueue(**_call("sk_same", "polish", "p_a"))
    again = items.enqueue(**_call("sk_same", "polish", "p_a"))
    assert first.id == again.id and items.counts() == {QUEUED: 1}


def test_a_claimed_item_is_not_claimed_again_until_its_lease_lapses_and_then_only_the_new_claim_counts(
    services: Services,
) -> None:
    clock = services.store.clock
    assert isinstance(clock, ManualClock)
    items = SkillBatches(services.store)
    _queue(items, 3)
    _queue(items, 1, provider="bulk")
    assert items.providers_queued() == ["bulk", "polish"]
    a = items.claim_queued("polish", "pass-a", limit=10)
    assert len(a) == 3 and items.claim_queued("polish", "pass-b", limit=10) == []
    assert items.providers_queued() == ["bulk"]
    # pass A dies mid-submission; past the lease pass B takes the items over
    clock.set(clock.now() + SUBMIT_LEASE + dt.timedelta(seconds=1))
    b = items.claim_queued("polish", "pass-b", limit=2)  # a batch's size is capped
    assert len(b) == 2 and all(i.claimed_by == "pass-b" for i in b)
    # A's word counts only for the item B did not take over
    assert items.mark_submitted([i.id for i in a], "pass-a", "batch_a") == 1
    assert items.mark_submitted([i.id for i in b], "pass-b", "batch_b") == 2
    assert items.counts() == {SUBMITTED: 3, QUEUED: 1}
    assert items.in_flight_batches() == [("polish", "batch_a"), ("polish", "batch_b")]
    assert items.release([i.id for i in b], "pass-a", "not mine") == 0


def test_an_ended_batch_is_collected_by_one_pass_and_a_retry_goes_back_in_the_queue(
    services: Services,
) -> None:
    items = SkillBatches(services.store)
    _queue(items, 2)
    claimed = items.claim_queued("polish", "pass-a", limit=10)
    items.mark_submitted([i.id for i in claimed], "pass-a", "batch_1")
    mine = items.claim_batch("batch_1", "pass-a")
    assert len(mine) == 2 and items.claim_batch("batch_1", "pass-b") == []
    assert items.counts() == {COLLECTING: 2}
    assert items.settle(mine[0].id, "pass-a", DONE)
    assert items.settle(mine[1].id, "pass-a", QUEUED, "invalid_json: output is not JSON")
    retried = items.get(mine[1].custom_id)
    assert retried is not None and retried.batch_id is None and retried.attempts == 1
    assert retried.request  # kept: it goes out again
    done = items.get(mine[0].custom_id)
    assert done is not None and done.request == {} and done.settled_at is not None
    assert items.settled_unrequested(10) == [(mine[0].id, "p_a")]
    assert items.mark_requested([mine[0].id]) == 1 and items.settled_unrequested(10) == []


def test_an_erasure_deletes_only_that_prospects_calls(services: Services) -> None:
    items = SkillBatches(services.store)
    _queue(items, 2, prospect="p_a")
    items.enqueue(**_call("sk_other", "polish", "p_b"))
    assert items.erase("p_a") == 2
    assert items.get("sk_other") is not None and items.counts() == {QUEUED: 1}


def test_a_stale_item_is_settled_and_its_prospect_requested(services: Services) -> None:
    items = SkillBatches(services.store)
    _queue(items, 1)
    [claimed] = items.claim_queued("polish", "pass-a", limit=5)
    items.mark_submitted([claimed.id], "pass-a", "batch_1")
    [mine] = items.claim_batch("batch_1", "pass-a")
    assert items.settle(mine.id, "pass-a", STALE, "the skill changed while its batch ran")
    assert items.settled_unrequested(10) == [(mine.id, "p_a")]


def test_a_direct_run_takes_a_queued_call_only_before_a_pass_claims_it(services: Services) -> None:
    items = SkillBatches(services.store)
    [first, second] = _queue(items, 2)
    one, two = items.get(first), items.get(second)
    assert one is not None and two is not None
    assert items.take_direct(one.id, "direct run") and not items.take_direct(one.id, "again")
    taken = items.get(first)
    assert taken is not None and taken.status == DIRECT and taken.request == {}
    assert taken.run_requested_at is not None and items.settled_unrequested(10) == []
    [claimed] = items.claim_queued("polish", "pass-a", limit=5)
    assert claimed.id == two.id and not items.take_direct(two.id, "too late")


def test_a_run_marks_its_prospects_settled_items_and_only_those(services: Services) -> None:
    items = SkillBatches(services.store)
    _queue(items, 1, prospect="p_a")
    _queue(items, 1, provider="bulk", prospect="p_b")
    for provider in ("polish", "bulk"):
        [claimed] = items.claim_queued(provider, "pass-a", limit=5)
        items.mark_submitted([claimed.id], "pass-a", f"batch_{provider}")
        [mine] = items.claim_batch(f"batch_{provider}", "pass-a")
        items.settle(mine.id, "pass-a", DONE)
    assert items.mark_run_started(["p_a"]) == 1
    assert [p for _, p in items.settled_unrequested(10)] == ["p_b"]


def test_submitted_estimates_count_against_the_cap_until_collected(services: Services) -> None:
    items = SkillBatches(services.store)
    _queue(items, 2)
    claimed = items.claim_queued("polish", "pass-a", limit=5)
    items.mark_submitted(
        [i.id for i in claimed], "pass-a", "batch_1", {claimed[0].id: 0.25, claimed[1].id: 0.5}
    )
    assert items.committed_usd("writing-copilot") == pytest.approx(0.75)
    assert items.committed_usd("research") == 0.0
    [first, _] = items.claim_batch("batch_1", "pass-a")
    items.settle(first.id, "pass-a", DONE)
    assert items.committed_usd("writing-copilot") == pytest.approx(0.5)


def test_a_held_create_is_requeued_only_by_the_operator(services: Services) -> None:
    items = SkillBatches(services.store)
    _queue(items, 1)
    [claimed] = items.claim_queued("polish", "pass-a", limit=5)
    assert items.mark_submit_unknown([claimed.id], "pass-a", "polish: timed out") == 1
    assert items.claim_queued("polish", "pass-b", limit=5) == [] and items.counts() == {SUBMIT_UNKNOWN: 1}
    assert items.requeue_unknown([claimed.id]) == 1 and items.counts() == {QUEUED: 1}

"""The review queue at the speed of triage (issue 17, item 2), without a browser: stable keys,
filters, evidence once, and approve-and-next answering with the next card."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gtm_pipeline.app import create_app
from gtm_pipeline.config import load_settings
from gtm_pipeline.console import review_queue
from gtm_pipeline.console.review_queue import ReviewFilters
from gtm_pipeline.domain.clock import ManualClock
from gtm_pipeline.domain.contracts import Evidence
from gtm_pipeline.domain.states import State
from gtm_pipeline.pipeline.discover import discover
from gtm_pipeline.pipeline.draft import build_context_pack, draft_first_touch
from gtm_pipeline.pipeline.research import augment, fetch_sources
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.store import schema as t
from gtm_pipeline.store.reviews import AmbiguousReviewError, review_key
from tests.conftest import HYPOTHESIS, STARTER, TEST_START

PASSWORD = "a long passphrase"


def _demo(home: Path, monkeypatch: pytest.MonkeyPatch, *, reverse: bool) -> Services:
    """A fresh demo in ``home``; ``reverse`` finishes the prospects' steps in the opposite order,
    as workers finishing in another order would (row numbers then differ)."""
    monkeypatch.setenv("GTM_HOME", str(home))
    services = Services.from_settings(load_settings(), clock=ManualClock(TEST_START))
    report = discover(services, services.hypotheses[HYPOTHESIS])
    for pid in reversed(report.prospect_ids) if reverse else report.prospect_ids:
        fetch_sources(services, pid)
        augment(services, pid)
        draft_first_touch(services, pid)
        build_context_pack(services, pid)
    return services


@pytest.fixture
def queued(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    skills = tmp_path / "skills"
    shutil.copytree(STARTER / "skills", skills)
    monkeypatch.setenv("GTM_SKILLS_DIR", str(skills))
    monkeypatch.setenv("GTM_OPERATOR_PASSWORD", PASSWORD)
    services = _demo(tmp_path / "home", monkeypatch, reverse=False)
    yield services
    services.close()


def _client(services: Services) -> TestClient:
    client = TestClient(create_app(services.settings, services=services), client=("203.0.113.9", 50000))
    assert client.post("/login", data={"password": PASSWORD}, follow_redirects=False).status_code == 303
    return client


def _csrf(client: TestClient) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/reviews").text)
    assert found is not None
    return found.group(1)


def test_the_same_draft_of_the_same_prospect_has_the_same_key_in_every_fresh_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    skills = tmp_path / "skills"
    shutil.copytree(STARTER / "skills", skills)
    monkeypatch.setenv("GTM_SKILLS_DIR", str(skills))
    first = _demo(tmp_path / "one", monkeypatch, reverse=False)
    second = _demo(tmp_path / "two", monkeypatch, reverse=True)
    try:
        a = {i.prospect_id: (i.id, review_key(i.artifact_id)) for i in first.store.reviews.pending()}
        b = {i.prospect_id: (i.id, review_key(i.artifact_id)) for i in second.store.reviews.pending()}
        assert len(a) >= 3 and a.keys() == b.keys()
        assert {p: k for p, (_, k) in a.items()} == {p: k for p, (_, k) in b.items()}
        assert any(a[p][0] != b[p][0] for p in a)  # the row numbers did follow the finishing order
        assert len({k for _, k in a.values()}) == len(a)  # one key per item
        for pid, (number, key) in a.items():
            by_key = first.store.reviews.resolve(key)
            assert by_key is not None and by_key.prospect_id == pid
            assert first.store.reviews.resolve(str(number)) == by_key  # the old numbers still work
            assert first.store.reviews.resolve(pid) == by_key  # and so does the prospect id
            assert first.store.reviews.resolve(key.upper()) == by_key
    finally:
        first.close()
        second.close()


def test_a_too_short_key_shared_by_two_items_is_refused_as_ambiguous(queued: Services) -> None:
    store = queued.store
    pid = store.reviews.pending()[0].prospect_id
    with store.writing() as c:  # two drafts whose ids share their first eight hex digits
        for tail in ("0" * 24, "f" * 24):
            artifact_id = "a_abcd1234" + tail
            c.execute(
                t.artifacts.insert().values(
                    id=artifact_id,
                    prospect_id=pid,
                    kind="draft",
                    content="{}",
                    content_hash=tail,
                    meta={},
                    created_at=TEST_START,
                )
            )
            c.execute(
                t.review_queue.insert().values(
                    prospect_id=pid,
                    artifact_id=artifact_id,
                    kind="draft",
                    status="decided",
                    created_at=TEST_START,
                )
            )
    assert review_key("a_abcd1234" + "0" * 24) == "rabcd12340000"
    with pytest.raises(AmbiguousReviewError, match="more characters"):
        store.reviews.resolve("rabcd1234")
    longer = store.reviews.resolve("rabcd1234f")
    assert longer is not None and longer.artifact_id.endswith("f" * 24)
    assert store.reviews.resolve("r0000000000000000000000000000000") is None
    assert store.reviews.resolve("not a key") is None


def test_filters_by_hypothesis_group_and_confidence(queued: Services) -> None:
    store = queued.store
    everything = review_queue.ordered(store, with_confidence=True)
    assert len(everything) == len(store.reviews.pending())
    assert (
        review_queue.ordered(store, ReviewFilters(hypothesis=HYPOTHESIS), with_confidence=True) == everything
    )
    assert review_queue.ordered(store, ReviewFilters(hypothesis="no-such-hypothesis")) == []
    assert [q.key for q in review_queue.ordered(store, ReviewFilters(group="writing-copilot"))] == [
        q.key for q in everything
    ]
    assert review_queue.ordered(store, ReviewFilters(group="writing-dark-factory")) == []
    confidences = sorted({q.confidence for q in everything if q.confidence is not None})
    assert confidences
    cut = int(confidences[0] * 100)
    low = review_queue.ordered(store, ReviewFilters(max_confidence=cut))
    assert low and all(q.confidence is not None and q.confidence * 100 <= cut + 1e-9 for q in low)
    high = review_queue.ordered(store, ReviewFilters(min_confidence=cut + 1))
    assert {q.key for q in low} | {q.key for q in high} == {q.key for q in everything}
    assert not {q.key for q in low} & {q.key for q in high}
    with _client(queued) as client:
        page = client.get("/reviews", params={"max_conf": str(cut)})
        assert page.status_code == 200
        assert page.text.count('class="card review-card"') == len(low)
        assert client.get("/reviews", params={"hypothesis": "no-such"}).text.count('review-card"') == 0
        for bad in (
            {"min_conf": "101"},
            {"max_conf": "-1"},
            {"min_conf": "x"},
            {"min_conf": "60", "max_conf": "50"},
        ):
            assert client.get("/reviews", params=bad).status_code == 400
        assert client.get("/reviews", params={"group": "g" * 101}).status_code == 400
        assert client.get("/reviews", params={"min_conf": "", "group": ""}).status_code == 200


def test_evidence_is_shown_once_with_the_results_that_cite_it() -> None:
    def ev(source: str, quote: str) -> Evidence:
        return Evidence.model_construct(source_id=source, quote=quote, url=f"https://{source}.example/")

    class Result:
        def __init__(self, *evidence: Evidence) -> None:
            self.evidence = list(evidence)

    draft = Result(ev("s1", "We rolled out audit trails."), ev("s2", "Hiring a compliance lead"))
    profile = Result(
        ev("s1", "we rolled out  audit trails"),  # the same sentence, other case and spacing
        ev("s2", "Hiring a compliance lead in Berlin"),  # a longer quote containing the draft's
        ev("s3", "We rolled out audit trails."),  # the same words from another source: kept
    )
    shown = review_queue.deduplicated([("draft", draft), ("profile", profile)], {})  # type: ignore[list-item]
    assert [(e["source_id"], e["quote"], e["used_by"]) for e in shown] == [
        ("s1", "We rolled out audit trails.", ["draft", "profile"]),
        ("s2", "Hiring a compliance lead in Berlin", ["draft", "profile"]),
        ("s3", "We rolled out audit trails.", ["profile"]),
    ]


def test_every_card_shows_each_quote_once_and_what_qualified_the_prospect(queued: Services) -> None:
    cards = review_queue.cards(queued.store)
    assert cards
    for card in cards:
        pairs = [(e["source_id"], " ".join(e["quote"].casefold().split())) for e in card["evidence"]]
        assert len(pairs) == len(set(pairs))
        found = [e for e in queued.store.journal.entries(card["prospect_id"]) if e.kind == "discovered"]
        assert card["qualified_by"]["score"] == pytest.approx(found[0].payload["score"])
        strongest = max(found[0].payload["signals"], key=lambda s: s["contribution"])
        assert card["qualified_by"]["signal"]["kind"] == strongest["kind"]
    with _client(queued) as client:
        text = client.get("/reviews").text
        assert text.count('class="qualified-by"') == len(cards)
        assert f'data-key="{cards[0]["key"]}"' in text


def test_approve_and_next_answers_with_the_next_card(queued: Services) -> None:
    store = queued.store
    keys = [q.key for q in review_queue.ordered(store)]
    with _client(queued) as client:
        csrf = _csrf(client)
        one = client.get(f"/reviews/{keys[0]}")
        assert one.status_code == 200 and one.text.count('class="card review-card"') == 1
        assert 'id="triage-position">1 of' in one.text and f'href="/reviews/{keys[1]}"' in one.text
        fragment = client.get(f"/reviews/{keys[1]}", headers={"HX-Request": "true"})
        assert "<html" not in fragment.text and f'data-key="{keys[1]}"' in fragment.text
        answer = client.post(
            f"/reviews/{keys[0]}/approve",
            data={"csrf": csrf, "next": "1", "edited": "0"},
            headers={"HX-Request": "true"},
        )
        assert answer.status_code == 200 and "<html" not in answer.text
        assert f'data-key="{keys[1]}"' in answer.text  # the next card, swapped in by htmx
        assert answer.headers["HX-Push-Url"] == f"/reviews/{keys[1]}"
        assert "approved" in answer.text and keys[0] in answer.text
        first = store.reviews.resolve(keys[0])
        assert first is not None and first.status == "approved"
        assert store.prospects.get(first.prospect_id).state in (State.APPROVED, State.SCHEDULED)  # type: ignore[union-attr]
        rejected = client.post(
            f"/reviews/{keys[1]}/reject",
            data={"csrf": csrf, "next": "1", "reason": "typed", "reason_choice": "too generic"},
            headers={"HX-Request": "true"},
        )
        assert f'data-key="{keys[2]}"' in rejected.text and "rejected: too generic" in rejected.text
        entry = store.journal.entries(store.reviews.resolve(keys[1]).prospect_id)[-1]  # type: ignore[union-attr]
        assert entry.payload["rationale"] == "too generic"
        again = client.post(
            f"/reviews/{keys[0]}/approve", data={"csrf": csrf, "next": "1"}, headers={"HX-Request": "true"}
        )
        assert "not approved" in again.text and "HX-Push-Url" not in again.headers  # refused, said
        empty = client.post(f"/reviews/{keys[2]}/reject", data={"csrf": csrf}, headers={"HX-Request": "true"})
        assert "needs a reason" in empty.text
        plain = client.post(
            f"/reviews/{keys[2]}/approve", data={"csrf": csrf, "next": "1"}, follow_redirects=False
        )
        assert plain.status_code == 303 and plain.headers["location"] == f"/reviews/{keys[3]}"
        assert client.get("/reviews/r0123456789abcdef").status_code == 404
        assert client.get("/reviews/bad-key").status_code == 422
        assert client.post("/reviews/99999999999999999999999/approve", data={"csrf": csrf}).status_code == 422


def test_a_signal_journaled_again_later_is_shown_once(queued: Services) -> None:
    store = queued.store
    pid = store.reviews.pending()[0].prospect_id
    (found,) = [e for e in store.journal.entries(pid) if e.kind == "discovered"]
    first = found.payload["signals"][0]
    again = {**first, "quote": "  " + first["quote"].upper() + " "}  # the same words, seen again
    fresh = {**first, "date": "2026-12-01", "quote": "A new announcement about audit trails."}
    for payload in (again, fresh, fresh):
        store.journal.append(subject=pid, kind="signal_observed", actor="test", payload=payload)
    why = review_queue.card(store, store.reviews.pending()[0].id)["why"]  # type: ignore[index]
    assert why is not None
    assert len(why.signals) == len(found.payload["signals"]) + 1
    assert [s.quote for s in why.later] == [fresh["quote"]]

"""Watched, not just searched: a known company is never added again; a new signal is journaled on
it; a not-now prospect waiting for that kind of signal is reopened by the state machine."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from gtm_pipeline.config import load_settings
from gtm_pipeline.domain.clock import ManualClock
from gtm_pipeline.domain.history import fold
from gtm_pipeline.domain.ids import prospect_id
from gtm_pipeline.domain.signals import Hit, Query, QueryKind
from gtm_pipeline.domain.states import Event, State
from gtm_pipeline.pipeline.discover import discover, discovery_subject
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.store import NewProspect
from gtm_pipeline.twins.web import WebTwin
from tests.conftest import HYPOTHESIS, TEST_START

DOMAIN = "rowan-health.example"
TODAY = TEST_START.date()


def _article(title: str, text: str, published: dt.date) -> bytes:
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>'
        '<script type="application/ld+json">{"@context":"https://schema.org","@type":"NewsArticle",'
        f'"datePublished":"{published.isoformat()}"}}</script></head>'
        f"<body><main><article><p>{text}</p></article></main></body></html>"
    ).encode()


class ListedSource:
    """A discovery source answering from a fixed list (the real sources have their own tests
    against their twins; this one exercises what discovery does with any source's hits)."""

    name = "listed"
    kinds: frozenset[QueryKind] = frozenset({"search"})
    paid = False

    def __init__(self, hits: list[Hit]) -> None:
        self.hits = hits
        self.asked: list[Query] = []

    def cost_usd(self, query: Query) -> float:
        return 0.0

    def search(self, query: Query) -> list[Hit]:
        self.asked.append(query)
        return list(self.hits)


@pytest.fixture
def watched(gtm_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Services, ListedSource]]:
    pages = {
        DOMAIN: {
            "/news/series-b": _article(
                "Rowan Health closes its Series B",
                "Rowan Health raised a Series B to automate compliance evidence across its clinics.",
                TODAY - dt.timedelta(days=3),
            ),
            "/news/old": _article(
                "Rowan Health opens a clinic",
                "Rowan Health opened its first clinic.",
                TODAY - dt.timedelta(days=900),
            ),
        }
    }
    with WebTwin(pages=pages) as twin:
        monkeypatch.setenv("GTM_FETCH_ENABLED", "1")
        monkeypatch.setenv("GTM_FETCH_ALLOW", twin.address)
        monkeypatch.setenv("GTM_FETCH_CONNECT_TO", ",".join(twin.connect_to()))
        monkeypatch.setenv("GTM_FETCH_PAUSE_S", "0")
        services = Services.from_settings(load_settings(), clock=ManualClock(TEST_START))
        source = ListedSource(
            [
                Hit(
                    "listed",
                    "series b",
                    f"https://{DOMAIN}/news/series-b",
                    "",
                    "Rowan Health raised a Series B",
                    None,
                ),
                Hit(
                    "listed",
                    "series b",
                    f"https://{DOMAIN}/news/old",
                    "",
                    "Rowan Health opened its first clinic",
                    None,
                ),
            ]
        )
        services.__dict__["discovery_sources"] = {"listed": source}
        hypotheses = dict(services.hypotheses)
        base = hypotheses[HYPOTHESIS]
        hypotheses[HYPOTHESIS] = base.model_copy(
            update={"discovery": base.discovery.model_copy(update={"search_queries": ["series b"]})}
        )
        services.hypotheses = hypotheses
        yield services, source
        services.close()


def _waiting_not_now(services: Services, waits_for: list[str]) -> str:
    pid = prospect_id(DOMAIN)
    store = services.store
    store.prospects.add(
        NewProspect(pid, HYPOTHESIS, DOMAIN, "Rowan Health"), actor="test", payload={"hypothesis": HYPOTHESIS}
    )
    for event in (
        Event.RESEARCH_STARTED,
        Event.QUALIFIED,
        Event.DRAFT_READY_FOR_REVIEW,
        Event.DRAFT_APPROVED,
        Event.SEND_SCHEDULED,
        Event.SENT,
        Event.DELIVERED,
    ):
        assert store.prospects.apply_event(pid, event, actor="test", rationale="test").allowed, event
    details = {"revisit_on": (TODAY + dt.timedelta(days=120)).isoformat(), "revisit_when": waits_for}
    decision = store.prospects.apply_event(
        pid, Event.NOT_NOW_REPLY, actor="test", rationale="reply: not now", details=details
    )
    assert decision.allowed and store.prospects.get(pid).state is State.NOT_NOW  # type: ignore[union-attr]
    return pid


def test_a_not_now_prospect_waiting_for_funding_is_reopened_by_a_funding_signal(
    watched: tuple[Services, ListedSource],
) -> None:
    services, source = watched
    pid = _waiting_not_now(services, ["funding"])
    report = discover(services, services.hypotheses[HYPOTHESIS])
    assert source.asked and source.asked[0].since == TODAY - dt.timedelta(days=180)
    assert report.registered == [] and report.already_known == [pid]  # never added twice
    assert report.reopened == [pid]
    prospect = services.store.prospects.get(pid)
    assert prospect is not None and prospect.state is State.RESEARCHING
    entries = services.store.journal.entries(pid)
    observed = [e for e in entries if e.kind == "signal_observed"]
    assert [(e.payload["kind"], e.payload["date"]) for e in observed] == [
        ("funding", (TODAY - dt.timedelta(days=3)).isoformat())
    ]
    last = entries[-1].payload
    assert last["event"] == "signal_reopened" and "funding signal dated" in last["rationale"]
    assert last["signal"]["url"] == f"https://{DOMAIN}/news/series-b"
    assert fold(entries).problems == []  # the replay agrees with the transition table
    # the 900-day-old page was rejected, on the hypothesis' own record, with its reason
    rejected = services.store.journal.entries(discovery_subject(HYPOTHESIS))
    assert [(e.payload["reason"], e.payload["url"]) for e in rejected] == [
        ("outside_lookback", f"https://{DOMAIN}/news/old")
    ]
    again = discover(services, services.hypotheses[HYPOTHESIS])  # the same signal is not new twice
    assert again.new_signals == 0 and again.reopened == []


def test_a_signal_of_another_kind_is_journaled_but_reopens_nothing(
    watched: tuple[Services, ListedSource],
) -> None:
    services, _source = watched
    pid = _waiting_not_now(services, ["hiring"])
    report = discover(services, services.hypotheses[HYPOTHESIS])
    assert report.new_signals == 1 and report.reopened == []
    assert services.store.prospects.get(pid).state is State.NOT_NOW  # type: ignore[union-attr]

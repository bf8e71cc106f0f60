"""The discovery sources against their twin, over real HTTP on loopback, through their real clients
(the official Exa and Tavily SDKs; httpx over the SSRF guard for the keyless APIs)."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gtm_pipeline.config import Settings, load_settings
from gtm_pipeline.domain.signals import Query
from gtm_pipeline.sources.discovery.base import DiscoverySource, SourceFailed
from gtm_pipeline.sources.discovery.http import RateLimit, TransientFailure, with_retries
from gtm_pipeline.sources.discovery.registry import SOURCE_NAMES, build_sources, missing_keys
from gtm_pipeline.twins.discovery import Article, DiscoveryTwin, World, synthetic_world

TODAY = dt.date(2026, 3, 2)
SINCE, UNTIL = TODAY - dt.timedelta(days=90), TODAY


def _day(days_ago: int) -> dt.date:
    return TODAY - dt.timedelta(days=days_ago)


ACME = {"company_name": "Acme Health", "company_domain": "acme-health.example"}
ARTICLES = [
    Article(
        "https://acme-health.example/news/soc2",
        "Acme Health completes its SOC 2 compliance audit",
        "Acme Health completed its SOC 2 compliance audit in February. The audit covered every system.",
        _day(10),
        channel="web",
        **ACME,
    ),
    Article(
        "https://newswire.example/2026/acme-raises",
        "Acme Health raises a Series A for compliance automation",
        "Acme Health raised a Series A to automate compliance reporting. Investors were named.",
        _day(5),
        channel="news",
        snippet="Acme Health announced record compliance revenue.",  # not on the page
        **ACME,
    ),
    Article(
        "https://acme-health.example/news/old-compliance",
        "Acme Health compliance programme, two years on",
        "Acme Health started a compliance programme long ago.",
        _day(400),
        channel="web",
        **ACME,
    ),
    Article(
        "https://acme-health.example/blog/compliance-stack",
        "How we automated compliance evidence at Acme Health",
        "We automated compliance evidence collection with a small team.",
        _day(20),
        channel="hn",
        **ACME,
    ),
    Article(
        "https://www.sec.gov/Archives/edgar/data/1234567/000123456726000042/d42d8k.htm",
        "Acme Health 8-K",
        "Acme Health, 8-K, Item 5.02, Item 9.01\n\nAcme Health appointed a chief compliance officer.",
        _day(12),
        channel="filing",
        form="8-K",
        items=("5.02", "9.01"),
        **ACME,
    ),
    Article(
        "https://www.sec.gov/Archives/edgar/data/1234567/000123456726000043/primary_doc.xml",
        "Acme Health D",
        "Acme Health, D\n\nA notice of an exempt offering of securities for compliance tooling.",
        _day(30),
        channel="filing",
        form="D",
        **ACME,
    ),
    *(
        Article(url, title, "Join us.", _day(days), channel="job", **ACME)
        for url, title, days in (
            ("https://boards.greenhouse.io/acmehealth/jobs/4001", "Compliance Analyst", 3),
            ("https://boards.greenhouse.io/acmehealth/jobs/4002", "Backend Engineer", 4),
            ("https://boards.greenhouse.io/acmehealth/jobs/4003", "GRC Manager", 200),
            ("https://jobs.lever.co/acme/5b1c", "Senior GRC Manager", 7),
            ("https://jobs.ashbyhq.com/acme/9f2e", "Compliance Analyst II", 8),
        )
    ),
]


@pytest.fixture
def twin() -> Iterator[DiscoveryTwin]:
    with DiscoveryTwin(World(list(ARTICLES)), timeout_sleep_s=1.5) as running:
        yield running


def _settings(twin: DiscoveryTwin, tmp_path: Path, *, keys: bool = True, **extra: str) -> Settings:
    env = {
        **twin.env(),
        "GTM_DISCOVERY_TIMEOUT_S": "0.4",
        "GTM_FETCH_CONTACT": "ops@northwind-advisory.example",
        **extra,
    }
    if not keys:
        env.pop("EXA_API_KEY"), env.pop("TAVILY_API_KEY")
    return load_settings(cwd=tmp_path, environ=env)


def _sources(
    twin: DiscoveryTwin, tmp_path: Path, sleeps: list[float] | None = None
) -> dict[str, DiscoverySource]:
    waits = sleeps if sleeps is not None else []
    return build_sources(
        _settings(twin, tmp_path), rates=dict.fromkeys(SOURCE_NAMES, 0.0), sleep=waits.append
    )


def _query(text: str, kind: str = "search", **extra: object) -> Query:
    return Query(text=text, kind=kind, since=SINCE, until=UNTIL, **extra)  # type: ignore[arg-type]


# ---------------------------------------------------------------- the registry


def test_paid_sources_are_built_only_with_their_key_and_priced_at_list(tmp_path: Path) -> None:
    with DiscoveryTwin(World([])) as running:
        keyless = build_sources(_settings(running, tmp_path, keys=False))
        assert sorted(keyless) == ["ats", "edgar", "gdelt", "hn"]
        assert missing_keys(_settings(running, tmp_path, keys=False)) == {"exa": "no_key", "tavily": "no_key"}
        every = build_sources(_settings(running, tmp_path))
    assert sorted(every) == sorted(SOURCE_NAMES)
    assert {n for n, s in every.items() if s.paid} == {"exa", "tavily"}
    assert every["exa"].cost_usd(_query("x", limit=10)) == pytest.approx(0.007)
    assert every["exa"].cost_usd(_query("x", limit=25)) == pytest.approx(0.022)  # $1/1k results past ten
    assert every["tavily"].cost_usd(_query("x")) == pytest.approx(0.008)
    assert all(every[n].cost_usd(_query("x")) == 0.0 for n in ("gdelt", "hn", "edgar", "ats"))


def test_the_base_urls_come_from_the_settings(tmp_path: Path) -> None:
    settings = load_settings(
        cwd=tmp_path, environ={"GTM_GDELT_URL": "http://127.0.0.1:9/", "EXA_API_KEY": "k"}
    )
    assert settings.model.discovery.gdelt_url == "http://127.0.0.1:9"
    assert settings.model.discovery.edgar_url == "https://efts.sec.gov"
    assert settings.origin("discovery.gdelt_url").label() == "env GTM_GDELT_URL"
    assert settings.secret("exa_api_key") == "k"


# ---------------------------------------------------------------- each source, mapped right


def test_exa_through_its_sdk_maps_highlights_dates_and_the_window(
    twin: DiscoveryTwin, tmp_path: Path
) -> None:
    hits = _sources(twin, tmp_path)["exa"].search(_query("acme compliance", limit=10))
    by_url = {h.url: h for h in hits}
    assert set(by_url) == {
        "https://acme-health.example/news/soc2",
        "https://newswire.example/2026/acme-raises",
    }  # the 400-day-old page is outside the window; the HN story, filings and jobs are not web pages
    soc2 = by_url["https://acme-health.example/news/soc2"]
    assert soc2.source == "exa" and soc2.published_on == _day(10)
    assert soc2.quote == "Acme Health completed its SOC 2 compliance audit in February."
    assert soc2.company_domain is None and soc2.kind_hint is None
    assert (
        by_url["https://newswire.example/2026/acme-raises"].quote
        == "Acme Health announced record compliance revenue."
    )
    (call,) = twin.calls_to("exa")
    assert call.method == "POST" and call.headers["x-api-key"] == "exa-twin-key"
    assert call.body["numResults"] == 10 and call.body["contents"]["highlights"] is True
    assert call.body["startPublishedDate"].startswith(SINCE.isoformat())
    assert call.body["endPublishedDate"].startswith(UNTIL.isoformat())


def test_tavily_through_its_sdk_dates_news_but_not_general_search(
    twin: DiscoveryTwin, tmp_path: Path
) -> None:
    tavily = _sources(twin, tmp_path)["tavily"]
    news = {h.url: h for h in tavily.search(_query("acme series", kind="news"))}
    raised = news["https://newswire.example/2026/acme-raises"]
    assert (
        raised.published_on == _day(5) and raised.quote == "Acme Health announced record compliance revenue."
    )
    general = tavily.search(_query("soc audit"))
    assert [h.url for h in general] == ["https://acme-health.example/news/soc2"]
    assert general[0].published_on is None  # general search returns no date: the page must date it
    calls = twin.calls_to("tavily")
    assert calls[0].headers["authorization"] == "Bearer tvly-twin-key"
    assert calls[0].body["topic"] == "news" and calls[1].body["topic"] == "general"
    assert calls[0].body["start_date"] == SINCE.isoformat() and calls[0].body["search_depth"] == "basic"


def test_gdelt_is_reached_through_the_ssrf_guard_by_its_real_name(
    twin: DiscoveryTwin, tmp_path: Path
) -> None:
    hits = _sources(twin, tmp_path)["gdelt"].search(_query("acme health", kind="news"))
    assert [(h.url, h.quote, h.published_on) for h in hits] == [
        (
            "https://newswire.example/2026/acme-raises",
            "Acme Health raises a Series A for compliance automation",
            _day(5),
        )
    ]
    (call,) = twin.calls_to("gdelt")
    assert call.headers["host"] == "api.gdeltproject.org"
    assert call.params["mode"] == "artlist" and call.params["format"] == "json"
    assert call.params["startdatetime"] == f"{SINCE:%Y%m%d}000000"
    assert "ops@northwind-advisory.example" in call.headers["user-agent"]
    assert _sources(twin, tmp_path)["gdelt"].search(_query("nothing matches this", kind="news")) == []


def test_hacker_news_stories_in_the_window(twin: DiscoveryTwin, tmp_path: Path) -> None:
    (hit,) = _sources(twin, tmp_path)["hn"].search(_query("automated compliance"))
    assert hit.url == "https://acme-health.example/blog/compliance-stack"
    assert hit.quote == "How we automated compliance evidence at Acme Health"
    assert hit.published_on == _day(20)
    (call,) = twin.calls_to("hn")
    assert call.headers["host"] == "hn.algolia.com" and call.params["tags"] == "story"
    start = int(dt.datetime.combine(SINCE, dt.time(), tzinfo=dt.UTC).timestamp())
    assert call.params["numericFilters"].startswith(f"created_at_i>={start},")
    narrow = Query("automated compliance", "search", since=_day(15), until=TODAY)
    assert _sources(twin, tmp_path)["hn"].search(narrow) == []


def test_edgar_filings_their_documents_kinds_and_a_user_agent_with_an_email(
    twin: DiscoveryTwin, tmp_path: Path
) -> None:
    hits = _sources(twin, tmp_path)["edgar"].search(_query("acme", kind="filings"))
    by_form = {h.title: h for h in hits}
    eight_k = by_form["Acme Health 8-K"]
    assert eight_k.url == "https://www.sec.gov/Archives/edgar/data/1234567/000123456726000042/d42d8k.htm"
    assert eight_k.quote == "Acme Health, 8-K, Item 5.02, Item 9.01"
    assert eight_k.kind_hint == "leadership_change" and eight_k.company_name == "Acme Health"
    assert eight_k.published_on == _day(12)
    assert by_form["Acme Health D"].kind_hint == "funding"
    (call,) = twin.calls_to("edgar")
    assert call.headers["host"] == "efts.sec.gov" and call.params["forms"] == "8-K,D"
    assert call.params["dateRange"] == "custom" and call.params["startdt"] == SINCE.isoformat()
    agent = call.headers["user-agent"]
    assert "Northwind Advisory" in agent and "ops@northwind-advisory.example" in agent


def test_job_boards_give_one_hiring_hit_per_matching_job(twin: DiscoveryTwin, tmp_path: Path) -> None:
    ats = _sources(twin, tmp_path)["ats"]
    query = _query(
        "", kind="jobs", board="greenhouse:acmehealth@acme-health.example", keywords=("compliance", "grc")
    )
    (hit,) = ats.search(query)  # the backend role does not match; the GRC one is outside the window
    assert (hit.url, hit.quote, hit.published_on) == (
        "https://boards.greenhouse.io/acmehealth/jobs/4001",
        "Compliance Analyst",
        _day(3),
    )
    assert hit.kind_hint == "hiring" and hit.company_domain == "acme-health.example"
    (lever,) = ats.search(_query("lever:acme@acme-health.example|grc manager", kind="jobs"))
    assert lever.url == "https://jobs.lever.co/acme/5b1c" and lever.published_on == _day(7)
    (ashby,) = ats.search(_query("ashby:acme", kind="jobs"))
    assert ashby.quote == "Compliance Analyst II" and ashby.company_domain is None
    assert [c.headers["host"] for c in twin.log] == [
        "boards-api.greenhouse.io",
        "api.lever.co",
        "api.ashbyhq.com",
    ]
    assert twin.calls_to("lever")[0].params == {"mode": "json"}
    with pytest.raises(SourceFailed) as unknown:
        ats.search(_query("greenhouse:nosuchboard", kind="jobs"))
    assert unknown.value.reason == "http_404"
    with pytest.raises(SourceFailed) as bad:
        ats.search(_query("workday:acme", kind="jobs"))
    assert bad.value.reason == "bad_query"


# ---------------------------------------------------------------- faults


CASES = {
    "exa": ("acme compliance", "search", {}),
    "tavily": ("acme compliance", "search", {}),
    "gdelt": ("acme", "news", {}),
    "hn": ("compliance", "search", {}),
    "edgar": ("acme", "filings", {}),
    "greenhouse": ("", "jobs", {"board": "greenhouse:acmehealth"}),
}


def _case(api: str) -> tuple[str, Query]:
    text, kind, extra = CASES[api]
    return ("ats" if api == "greenhouse" else api), _query(text, kind=kind, **extra)


FAULTS = [
    ("429", "http_429", 3),
    ("503", "http_503", 3),
    ("timeout", "timeout", 3),
    ("malformed", "malformed", 1),
]


@pytest.mark.parametrize("api", list(CASES))
@pytest.mark.parametrize(("fault", "reason", "calls"), FAULTS)
def test_each_fault_is_a_stable_reason_after_bounded_retries(
    twin: DiscoveryTwin, tmp_path: Path, api: str, fault: str, reason: str, calls: int
) -> None:
    name, query = _case(api)
    sleeps: list[float] = []
    source = _sources(twin, tmp_path, sleeps)[name]
    twin.inject(api, fault, times=5)
    with pytest.raises(SourceFailed) as failed:
        source.search(query)
    assert failed.value.reason == reason and failed.value.source == name
    assert twin.calls[api] == calls
    assert len(sleeps) == calls - 1 and sum(sleeps) <= 10.0


@pytest.mark.parametrize("api", list(CASES))
def test_a_429_then_an_answer_is_an_answer(twin: DiscoveryTwin, tmp_path: Path, api: str) -> None:
    name, query = _case(api)
    sleeps: list[float] = []
    source = _sources(twin, tmp_path, sleeps)[name]
    twin.inject(api, "429")
    assert source.search(query)  # the hits, after one retry
    assert twin.calls[api] == 2 and [c.status for c in twin.calls_to(api)] == [429, 200]
    assert sleeps == [1.0]  # retry-after: 1 (Exa's SDK hides it: our first backoff is also 1 s)


@pytest.mark.parametrize("api", list(CASES))
def test_an_empty_answer_is_no_hits_not_a_failure(twin: DiscoveryTwin, tmp_path: Path, api: str) -> None:
    name, query = _case(api)
    twin.inject(api, "empty")
    assert _sources(twin, tmp_path)[name].search(query) == []


def test_a_host_that_does_not_answer_or_is_not_allowed_is_unreachable(
    twin: DiscoveryTwin, tmp_path: Path
) -> None:
    closed = load_settings(
        cwd=tmp_path,
        environ={
            **twin.env(),
            "GTM_GDELT_URL": "http://127.0.0.1:9",
            "GTM_EXA_URL": "http://127.0.0.1:9",
            "GTM_TAVILY_URL": "http://127.0.0.1:9",
            "GTM_FETCH_ALLOW": f"{twin.address},127.0.0.1:9",
        },
    )
    sources = build_sources(closed, rates=dict.fromkeys(SOURCE_NAMES, 0.0))
    for name, kind in (("gdelt", "news"), ("exa", "search"), ("tavily", "search")):
        with pytest.raises(SourceFailed) as refused:  # nobody listens: at once, not retried
            sources[name].search(_query("acme", kind=kind))
        assert (refused.value.source, refused.value.reason) == (name, "unreachable")
    not_allowed = load_settings(cwd=tmp_path, environ={**twin.env(), "GTM_FETCH_ALLOW": ""})
    with pytest.raises(SourceFailed) as guarded:  # loopback is private: the SSRF guard says no
        build_sources(not_allowed)["hn"].search(_query("compliance"))
    assert guarded.value.reason == "unreachable" and twin.calls["hn"] == 0


def test_retries_stop_rather_than_wait_past_the_budget() -> None:
    tries: list[int] = []
    sleeps: list[float] = []

    def busy() -> None:
        tries.append(1)
        raise TransientFailure("x", "http_429", retry_after_s=3600)

    with pytest.raises(SourceFailed, match="http_429"):
        with_retries(busy, sleep=sleeps.append)
    assert len(tries) == 1 and sleeps == []

    def bad() -> None:
        tries.append(1)
        raise SourceFailed("x", "http_404")

    with pytest.raises(SourceFailed):
        with_retries(bad, sleep=sleeps.append)
    assert len(tries) == 2 and sleeps == []


def test_the_rate_limit_spaces_requests() -> None:
    limit = RateLimit(10.0)  # EDGAR's 10 requests a second
    started = time.monotonic()
    for _ in range(5):
        limit.wait()
    assert time.monotonic() - started >= 0.38


# ---------------------------------------------------------------- the synthetic world


def test_the_synthetic_world_is_deterministic_and_mixed() -> None:
    world = synthetic_world(companies=300, hits=1000, seed=7, today=TODAY)
    again = synthetic_world(companies=300, hits=1000, seed=7, today=TODAY)
    assert [a.url for a in world.articles] == [a.url for a in again.articles]
    assert len(world.articles) == 1000 and len({a.company_domain for a in world.articles}) == 300
    share = lambda test: sum(1 for a in world.articles if test(a)) / len(world.articles)  # noqa: E731
    assert (
        0.1 < share(lambda a: a.published is not None and a.published < TODAY - dt.timedelta(days=180)) < 0.25
    )
    assert 0.05 < share(lambda a: not a.page_dated) < 0.25
    assert 0.02 < share(lambda a: a.snippet is not None) < 0.1
    assert 0.02 < share(lambda a: a.host.endswith("aggregator.example")) < 0.1
    assert 0.1 < share(lambda a: a.channel == "news") < 0.3
    pages = world.pages()
    dated = next(a for a in world.articles if a.page_dated and a.published and a.channel == "web")
    page = pages[dated.host][dated.path].decode()
    assert f'"datePublished": "{dated.published.isoformat()}"' in page and dated.title in page
    undated = next(a for a in world.articles if not a.page_dated and a.host in pages)
    assert "datePublished" not in pages[undated.host][undated.path].decode()
    assert len(world.search({"web", "news"}, "compliance", TODAY - dt.timedelta(days=90), TODAY, 25)) == 25
    json.dumps([a.url for a in world.articles])

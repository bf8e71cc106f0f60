"""Discovery on real sources, as it runs with keys set: Exa, Tavily, GDELT, Hacker News, EDGAR and a
job board, each answered by its twin over loopback; every hit's page read through the fetcher from
the web twin; candidates merged by domain whose every signal has a dated quote found in its page."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from email.utils import format_datetime
from pathlib import Path

import dagster as dg
import pytest

from gtm_pipeline.cli.run import _print_inputs
from gtm_pipeline.config import STARTER, load_settings
from gtm_pipeline.defs.discovery.hypotheses import build_hypothesis_assets
from gtm_pipeline.defs.resources import (
    DiscoveryResource,
    DiscoverySourceResource,
    GtmResource,
    gtm_resource,
)
from gtm_pipeline.domain.clock import ManualClock
from gtm_pipeline.domain.hypothesis import Hypothesis, JobBoard
from gtm_pipeline.domain.sources import normalize_for_match
from gtm_pipeline.pipeline.discover import discover
from gtm_pipeline.pipeline.hypotheses import load_hypotheses
from gtm_pipeline.pipeline.inputs_report import inputs_status
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.pipeline.signal_search import gather
from gtm_pipeline.sources.discovery.registry import SOURCE_NAMES, endpoints_from_settings
from gtm_pipeline.twins.discovery import Article, DiscoveryTwin, World
from gtm_pipeline.twins.web import WebTwin
from tests.conftest import HYPOTHESIS, TEST_START

TODAY = TEST_START.date()
ACME = {"company_name": "Acme Health", "company_domain": "acme-health.example"}
BIRCH = {"company_name": "Birch Clinics", "company_domain": "birch-clinics.example"}


def _day(days_ago: int) -> dt.date:
    return TODAY - dt.timedelta(days=days_ago)


ARTICLES = [
    Article(
        "https://acme-health.example/news/soc2",
        "Acme Health completes its SOC 2 compliance audit",
        "Acme Health completed its SOC 2 compliance audit in October. The audit covered every system.",
        _day(10),
        channel="web",
        **ACME,
    ),
    Article(  # a third party's report: attributed to the company the page says it is about
        "https://newswire.example/2026/birch-automates",
        "Birch Clinics starts compliance automation",
        "Birch Clinics rolled out compliance automation across its clinics. Its operating chief led it.",
        _day(6),
        channel="news",
        **BIRCH,
    ),
    Article(  # the API's snippet is not what the page says
        "https://newswire.example/2026/acme-raises",
        "Acme Health raises a Series A for compliance automation",
        "Acme Health raised a Series A to automate compliance reporting.",
        _day(5),
        channel="news",
        snippet="Acme Health announced record compliance revenue.",
        **ACME,
    ),
    Article(
        "https://acme-health.example/news/old-compliance",
        "Acme Health compliance programme, two years on",
        "Acme Health started a compliance programme long ago.",
        _day(400),
        channel="web",
        api_published=_day(2),  # re-crawled: the index says recent, the page says two years old
        **ACME,
    ),
    Article(
        "https://www.sec.gov/Archives/edgar/data/1234567/000123456726000042/d42d8k.htm",
        "Acme Health 8-K",
        "Acme Health, 8-K, Item 5.02, Item 9.01\n\nAcme Health appointed a chief compliance officer."
        "\n\nCounsel: Baker & Lake LLP (bakerlake.example). About Acme Health: www.acme-health.example.",
        _day(12),
        channel="filing",
        form="8-K",
        items=("5.02", "9.01"),
        **ACME,
    ),
    Article(
        "https://boards.greenhouse.io/acmehealth/jobs/4001",
        "Compliance Analyst",
        "Join us.",
        _day(3),
        channel="job",
        **ACME,
    ),
]


@pytest.fixture
def live(gtm_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Services, DiscoveryTwin]]:
    world = World(list(ARTICLES))
    pages = world.pages()
    stamp = format_datetime(dt.datetime.combine(_day(10), dt.time(9), tzinfo=dt.UTC))
    pages["acme-health.example"]["/feed.xml"] = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Acme news</title>'
        "<item><title>Acme Health completes its SOC 2 compliance audit</title>"
        "<link>https://acme-health.example/news/soc2</link>"
        f"<pubDate>{stamp}</pubDate></item>"
        "</channel></rss>"
    ).encode()
    with DiscoveryTwin(world) as apis, WebTwin(pages=pages) as web:
        env = apis.env()
        for name, value in env.items():
            if not name.startswith("GTM_FETCH"):
                monkeypatch.setenv(name, value)
        monkeypatch.setenv("GTM_FETCH_ENABLED", "1")
        monkeypatch.setenv("GTM_FETCH_PAUSE_S", "0")
        monkeypatch.setenv("GTM_FETCH_ALLOW", f"{apis.address},{web.address}")
        monkeypatch.setenv("GTM_FETCH_CONNECT_TO", ",".join([*apis.connect_to(), *web.connect_to()]))
        services = _services()
        yield services, apis
        services.close()


def _services() -> Services:
    """Services on the settings as the environment has them, every source unthrottled (twins)."""
    settings = load_settings()
    unthrottled = endpoints_from_settings(settings, rates=dict.fromkeys(SOURCE_NAMES, 0.0))
    return Services.from_settings(settings, clock=ManualClock(TEST_START), discovery_endpoints=unthrottled)


def _hypothesis(services: Services, **update: object) -> Hypothesis:
    base = services.hypotheses[HYPOTHESIS]
    section = base.discovery.model_copy(
        update={
            "search_queries": ["compliance"],
            "news_queries": ["compliance"],
            "filings_queries": ["compliance"],
            "job_boards": [JobBoard(ats="greenhouse", token="acmehealth", domain="acme-health.example")],
            "job_keywords": ["compliance", "grc"],
            "feeds": ["https://acme-health.example/feed.xml"],
            **update,
        }
    )
    return base.model_copy(update={"discovery": section})


def test_with_keys_every_source_is_asked_and_every_signal_kept_is_dated_and_found_in_its_page(
    live: tuple[Services, DiscoveryTwin],
) -> None:
    services, apis = live
    hypothesis = _hypothesis(services)
    gathered = gather(services, hypothesis)
    assert set(gathered.calls) == {"exa", "tavily", "gdelt", "hn", "edgar", "ats", "feeds"}
    assert gathered.failures == [] and gathered.spend_usd > 0
    assert set(gathered.candidates) == {"acme-health.example", "birch-clinics.example"}
    acme = gathered.candidates["acme-health.example"]
    assert {s.kind for s in acme.signals} >= {"regulatory_event", "leadership_change", "hiring"}
    (filed,) = [s for s in acme.signals if s.source == "edgar"]  # EDGAR names no site: the filing does
    assert (filed.kind, filed.url) == ("leadership_change", ARTICLES[4].url)
    assert len(acme.sources) >= 3  # merged across sources by domain, every signal kept
    for candidate in gathered.candidates.values():
        for signal in candidate.signals:
            page = gathered.pages[candidate.domain][signal.source_id]
            assert normalize_for_match(signal.quote) in normalize_for_match(f"{page.title}\n{page.text}")
            assert 0 <= (TODAY - signal.date).days <= hypothesis.lookback_days
    assert acme.score == round(sum(s.contribution for s in acme.signals), 4) > 0
    reasons = {(r.reason, r.url) for r in gathered.rejections}
    assert ("quote_not_in_source", "https://newswire.example/2026/acme-raises") in reasons
    assert ("outside_lookback", "https://acme-health.example/news/old-compliance") in reasons
    assert services.store.spend.rows() and {r["provider"] for r in services.store.spend.rows()} == {
        "exa",
        "tavily",
    }

    calls = sum(apis.calls.values())
    again = gather(services, hypothesis)  # the same questions inside the window: not asked, not paid
    assert sum(apis.calls.values()) == calls and again.spend_usd == 0
    assert set(again.cache_hits) == {"exa", "tavily", "gdelt", "hn", "edgar", "ats", "feeds"}
    assert set(again.candidates) == set(gathered.candidates)


def test_discovery_registers_the_candidates_with_their_score_and_signals_and_a_source_failure_is_recorded(
    live: tuple[Services, DiscoveryTwin], capsys: pytest.CaptureFixture[str]
) -> None:
    services, apis = live
    apis.inject("gdelt", "503", times=5)
    report = discover(services, _hypothesis(services))
    assert report.gathered is not None
    assert [(f["source"], f["reason"]) for f in report.gathered.failures] == [("gdelt", "http_503")]
    registered = {services.store.prospects.get(pid).company_domain for pid in report.registered}  # type: ignore[union-attr]
    assert "acme-health.example" in registered
    pid = next(
        p
        for p in report.registered
        if services.store.prospects.get(p).company_domain == "acme-health.example"
    )  # type: ignore[union-attr]
    (found,) = [e for e in services.store.journal.entries(pid) if e.kind == "discovered"]
    assert found.payload["score"] > 0 and found.payload["signals"]
    assert all(s["contribution"] == round(s["weight"] * s["recency"], 4) for s in found.payload["signals"])
    kept = {a.source_id for a in services.store.artifacts.of_kind(pid, "raw_source")}
    assert {s["source_id"] for s in found.payload["signals"]} <= kept  # each quote's page is kept
    again = discover(services, _hypothesis(services))
    assert again.registered == [] and pid in again.already_known  # a company seen before is never re-added

    shown = inputs_status(services.store)["discovery"][HYPOTHESIS]  # what gtm status and the board show
    assert shown["failed"] == {"gdelt: http_503": 1}
    distinct = {(r.url, r.reason) for r in report.gathered.rejections}  # one page, many sources: once
    assert shown["rejected"] == dict(sorted(Counter(reason for _, reason in distinct).items()))
    assert shown["rejected"]["quote_not_in_source"] >= 1
    _print_inputs(inputs_status(services.store))
    printed = capsys.readouterr().out
    assert f"Discovery for {HYPOTHESIS}, source calls failed in 7 days: gdelt: http_503 1" in printed
    assert "quote_not_in_source" in printed


def test_with_no_key_it_runs_on_the_keyless_sources_and_a_dry_run_pays_nothing(
    live: tuple[Services, DiscoveryTwin], monkeypatch: pytest.MonkeyPatch
) -> None:
    services, apis = live
    monkeypatch.delenv("EXA_API_KEY")
    monkeypatch.delenv("TAVILY_API_KEY")
    keyless = _services()
    try:
        gathered = gather(keyless, _hypothesis(keyless))
        assert set(gathered.calls) == {"gdelt", "hn", "edgar", "ats", "feeds"}
        assert "acme-health.example" in gathered.candidates
    finally:
        keyless.close()
    dry = gather(services, _hypothesis(services), dry_run=True)
    assert dry.spend_usd == 0 and not services.store.spend.rows()
    assert {s["source"] for s in dry.skipped} == {"exa", "tavily"}
    assert all("--allow-spend" in s["reason"] for s in dry.skipped)
    assert apis.calls["exa"] == 0 and apis.calls["tavily"] == 0


DISCOVERY_SECTION = """discovery:
  search_queries: [compliance]
  news_queries: [compliance]
  filings_queries: [compliance]
  job_boards: [{ats: greenhouse, token: acmehealth, domain: acme-health.example}]
  job_keywords: [compliance]
"""


def test_the_dagster_discovery_asset_asks_the_sources_its_resources_configure_keys_through_envvar(
    live: tuple[Services, DiscoveryTwin], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Dagster run asks exactly the sources of its ``discovery`` resource: their addresses and
    rates as configured there (rate 0 here: a twin needs no spacing), the paid ones' keys read
    from the environment at run time through ``EnvVar``, never written into the run's record."""
    _, apis = live
    folder = tmp_path / "hypotheses"
    folder.mkdir()
    starter = (STARTER / "hypotheses" / f"{HYPOTHESIS}.md").read_text(encoding="utf-8")
    (folder / f"{HYPOTHESIS}.md").write_text(
        starter.replace("value_proposition:", DISCOVERY_SECTION + "value_proposition:", 1), encoding="utf-8"
    )
    monkeypatch.setenv("GTM_HYPOTHESES_DIR", str(folder))
    monkeypatch.setenv("EXA_API_KEY", "exa-secret-at-run-time")
    settings = load_settings()
    configured = gtm_resource(settings).discovery
    fast = {
        name: DiscoverySourceResource(
            base_url=getattr(configured, name).base_url,
            rate_per_s=0.0,
            api_key=dg.EnvVar("EXA_API_KEY") if name == "exa" else None,  # Tavily: left without a key
        )
        for name in SOURCE_NAMES
    }

    class AtTestStart(GtmResource):  # the run's services on the test's clock, as on any date
        def setup_for_execution(self, context: dg.InitResourceContext) -> None:
            self.services.clock = ManualClock(TEST_START)

    resource = gtm_resource(settings, cls=AtTestStart).model_copy(
        update={"discovery": DiscoveryResource(**fast)}
    )
    assets = build_hypothesis_assets(load_hypotheses(folder)[HYPOTHESIS])
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(assets, instance=instance, resources={"gtm": resource})
        assert result.success
        (materialized,) = [m for m in result.asset_materializations_for_node(assets[1].op.name) if m.metadata]
        log = repr(instance.all_logs(result.run_id)) + repr(instance.get_run_by_id(result.run_id))
    assert apis.calls["exa"] > 0 and apis.calls["tavily"] == 0 and apis.calls["gdelt"] > 0
    assert "exa-secret-at-run-time" not in log
    assert materialized.metadata["registered"].value >= 1  # type: ignore[attr-defined]


def test_paid_search_stops_at_the_daily_cap_and_says_so_and_the_next_day_it_may_spend_again(
    live: tuple[Services, DiscoveryTwin], monkeypatch: pytest.MonkeyPatch
) -> None:
    """discovery.daily_cap_usd bounds what paid search spends in a day, across passes; a query it
    would push over the cap is not asked, and the skip names the cap and what was spent."""
    _, apis = live
    monkeypatch.setenv("GTM_DISCOVERY_DAILY_CAP_USD", "0.04")  # Exa $0.022 and Tavily $0.008 a query
    capped = _services()
    try:
        hypothesis = _hypothesis(capped, search_queries=["compliance", "audit", "soc 2"], news_queries=[])
        gathered = gather(capped, hypothesis)
        spent = capped.store.spend.on(TEST_START.date(), providers=["exa", "tavily"])
        assert 0 < spent <= 0.04 and gathered.spend_usd == pytest.approx(spent)
        refused = [s for s in gathered.skipped if s["source"] in ("exa", "tavily")]
        assert refused and all("discovery.daily_cap_usd $0.04" in s["reason"] for s in refused)
        asked = apis.calls["exa"] + apis.calls["tavily"]
        assert asked + len(refused) == 6  # three queries to each paid source: asked or refused
        assert capped.store.spend.on(TEST_START.date(), providers=["gdelt"]) == 0.0  # keyless is free
        capped.clock.set(TEST_START + dt.timedelta(days=1))  # type: ignore[attr-defined]
        later = gather(capped, _hypothesis(capped, search_queries=["hipaa"], news_queries=[]))
        assert later.spend_usd > 0 and not [s for s in later.skipped if s["source"] in ("exa", "tavily")]
    finally:
        capped.close()

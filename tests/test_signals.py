"""Signals as data: the kind of a quote, recency, and every rule a hit must pass to count."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from gtm_pipeline.config import STARTER
from gtm_pipeline.domain.filer_site import site_named_in
from gtm_pipeline.domain.hypothesis import Hypothesis
from gtm_pipeline.domain.signals import Hit, Rejection, Signal, classify, kinds_named, recency
from gtm_pipeline.domain.sources import SourceDoc
from gtm_pipeline.pipeline.hypotheses import HypothesisFileError, load_hypothesis
from gtm_pipeline.pipeline.signal_check import CheckRules, attribute, check
from gtm_pipeline.sources.readers import ReadPage, Unread

TODAY = dt.date(2026, 11, 20)
HYPOTHESIS = STARTER / "hypotheses" / "healthcare-compliance-automation.md"


def _hypothesis(**discovery: object) -> Hypothesis:
    base = load_hypothesis(HYPOTHESIS)
    return base.model_copy(update={"discovery": base.discovery.model_copy(update=discovery)})


def _page(url: str, text: str, published: dt.date | None = None, about: tuple[str, ...] = ()) -> ReadPage:
    doc = SourceDoc(
        source_id=f"web/{url.split('://')[1]}",
        url=url,
        kind="news",
        title="A title",
        text=text,
        published_on=published,
        retrieved_at=dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC),
        content_hash="h",
    )
    return ReadPage(doc, "json-ld" if published else "none", about_urls=about)


def _hit(
    url: str, quote: str, *, source: str = "exa", published: dt.date | None = None, **extra: object
) -> Hit:
    return Hit(source=source, query="q", url=url, title="", quote=quote, published_on=published, **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Harborview appointed Sofia Martins as its first Head of Compliance.", "leadership_change"),
        ("Auditly Health raised a Series A to grow.", "funding"),
        ("Ledgerly began work toward its SOC 2 audit.", "regulatory_event"),
        ("Harborview is hiring two compliance engineers.", "hiring"),
        ("The clinics rolled out an evidence platform.", "technology_adoption"),
        ("SwiftCart launched same-day delivery.", "product_launch"),
        ("Our CEO shared what manual evidence costs us.", "public_statement"),
        ("Nothing in particular here.", "public_statement"),
    ],
)
def test_a_quote_is_classified_by_the_first_kind_it_speaks_of(text: str, kind: str) -> None:
    assert classify(text) == kind


def test_a_source_hint_wins_and_a_hypothesis_adds_its_own_words() -> None:
    assert classify("Senior Analyst, Pune", hint="hiring") == "hiring"
    assert classify("We went live on Vanta.") == "public_statement"
    assert (
        classify("We went live on Vanta.", extra={"technology_adoption": ["went live on"]})
        == "technology_adoption"
    )
    assert kinds_named("Circle back once we have closed our Series B and hired a compliance lead") == [
        "funding",
        "hiring",
    ]
    assert kinds_named("we are launching nothing") == []  # whole words only: "launching" is not "launch"


def test_recency_falls_linearly_to_zero_at_the_edge_of_the_window() -> None:
    assert recency(TODAY, TODAY, 100) == 1.0
    assert 0.49 < recency(TODAY - dt.timedelta(days=50), TODAY, 100) < 0.51
    assert recency(TODAY - dt.timedelta(days=101), TODAY, 100) == 0.0
    assert recency(TODAY + dt.timedelta(days=1), TODAY, 100) == 0.0


def test_a_hit_that_passes_every_rule_is_a_weighted_dated_signal_on_the_companys_own_site() -> None:
    rules = CheckRules.of(_hypothesis(weights={"funding": 2.0}), TODAY)
    page = _page(
        "https://acme.example/news/a", "Acme raised a Series A on Monday.", TODAY - dt.timedelta(days=30)
    )
    outcome = check(_hit("https://acme.example/news/a", "Acme  raised a Series A"), page, rules)
    assert isinstance(outcome, Signal)
    assert (outcome.kind, outcome.company_domain, outcome.date) == (
        "funding",
        "acme.example",
        page.doc.published_on,
    )
    assert outcome.weight == 2.0 and outcome.contribution == round(2.0 * outcome.recency, 4) > 1.6


@pytest.mark.parametrize(
    ("hit", "page", "reason"),
    [
        (  # the search API's snippet is not what the page says
            _hit("https://acme.example/a", "Acme raised a Series B"),
            _page("https://acme.example/a", "Acme raised a Series A.", TODAY),
            "quote_not_in_source",
        ),
        (  # no date on the page and none from the source
            _hit("https://acme.example/a", "Acme raised a Series A"),
            _page("https://acme.example/a", "Acme raised a Series A."),
            "date_unknown",
        ),
        (  # the source's date stands in when the page has none, and is checked like any other
            _hit(
                "https://acme.example/a", "Acme raised a Series A", published=TODAY - dt.timedelta(days=400)
            ),
            _page("https://acme.example/a", "Acme raised a Series A."),
            "outside_lookback",
        ),
        (
            _hit("https://acme.example/a", "Acme raised a Series A"),
            _page("https://acme.example/a", "Acme raised a Series A.", TODAY + dt.timedelta(days=3)),
            "outside_lookback",
        ),
        (
            _hit("https://wire.example/acme", "Acme raised a Series A"),
            _page("https://wire.example/acme", "Acme raised a Series A.", TODAY),
            "excluded_source",
        ),
        (  # a news index's article with no organization named: whose signal is it?
            _hit("https://news.example/story", "Acme raised a Series A", source="gdelt"),
            _page("https://news.example/story", "Acme raised a Series A.", TODAY),
            "unattributed",
        ),
        (
            _hit("https://acme.example/a", "Acme launched an app"),
            _page("https://acme.example/a", "Acme launched an app.", TODAY),
            "no_signal_kind",
        ),
        (
            _hit("https://acme.example/a", "Acme raised a Series A"),
            Unread("https://acme.example/a", "robots", "disallowed by robots.txt"),
            "not_fetched",
        ),
    ],
)
def test_every_rule_a_hit_breaks_is_named(hit: Hit, page: ReadPage | Unread, reason: str) -> None:
    rules = CheckRules.of(
        _hypothesis(exclude_sources=["wire.example"], weights={"funding": 1.0, "product_launch": 0.0}), TODAY
    )
    outcome = check(hit, page, rules)
    assert isinstance(outcome, Rejection) and outcome.reason == reason, outcome


def test_an_excluded_company_is_rejected_whoever_reports_it() -> None:
    rules = CheckRules.of(_hypothesis(exclude_domains=["https://www.Acme.example/"]), TODAY)
    page = _page("https://acme.example/a", "Acme raised a Series A.", TODAY)
    outcome = check(_hit("https://acme.example/a", "Acme raised a Series A"), page, rules)
    assert isinstance(outcome, Rejection) and outcome.reason == "excluded_source"


def test_attribution_source_first_then_own_site_then_what_a_third_party_says_it_is_about() -> None:
    own = _page("https://www.acme.example/news", "x", TODAY)
    assert attribute(_hit(own.doc.url, "x", company_domain="https://Beta.example/"), own) == "beta.example"
    assert attribute(_hit(own.doc.url, "x"), own) == "acme.example"
    news = _page(
        "https://news.example/story", "x", TODAY, about=("https://news.example/", "https://acme.example/")
    )
    assert attribute(_hit(news.doc.url, "x", source="gdelt"), news) == "acme.example"
    hn = _page("https://news.ycombinator.com/item?id=1", "x", TODAY)
    assert attribute(_hit(hn.doc.url, "x", source="exa"), hn) is None  # a publisher is nobody's own site


def test_a_broken_discovery_section_stops_loading_naming_the_file_and_the_field(tmp_path: Path) -> None:
    text = HYPOTHESIS.read_text(encoding="utf-8")
    broken = tmp_path / "healthcare-compliance-automation.md"
    broken.write_text(
        text.replace("recency_days: 180", "recency_days: 180\ndiscovery:\n  weights: {fundraising: 2}")
    )
    with pytest.raises(
        HypothesisFileError, match=r"healthcare-compliance-automation\.md: discovery\.weights"
    ):
        load_hypothesis(broken)
    broken.write_text(text.replace("recency_days: 180", "recency_days: 180\ndiscovery:\n  feeds: [ftp://x]"))
    with pytest.raises(HypothesisFileError, match=r"discovery\.feeds"):
        load_hypothesis(broken)


# ---------------------------------------------------------------- a filing names its filer's site


@pytest.mark.parametrize(
    ("text", "filer", "site"),
    [
        ("About Acme Health: www.acmehealth.com.", "ACME HEALTH INC", "acmehealth.com"),
        ("Investors: https://investors.acme-health.example/q3", "Acme Health Inc", "acme-health.example"),
        ("Flights at united.example", "United Health Group Inc", None),  # a first word alone is no name
        ("more at acme.example", "Acme Health Inc", None),
        ("Investors: ir@acme-health.example", "Acme Health, Inc.", "acme-health.example"),
        (
            "See https://acme.example/news and www.acmehealth.example",
            "Acme Health Corp",
            "acmehealth.example",
        ),
        ("Counsel: bakerlake.example; auditor: kpmg.example; sec.gov", "Acme Health Inc", None),
        ("Exhibit d42d8k.htm filed at sec.gov", "Acme Health Inc", None),
        ("www.ab.example", "AB Holdings Ltd", None),  # too short to prove anything
        ("The Birch Group (birch.example)", "The Birch Group plc", "birch.example"),
    ],
)
def test_a_filing_names_its_filers_site_only_when_the_domain_spells_the_name(
    text: str, filer: str, site: str | None
) -> None:
    assert site_named_in(text, filer) == site

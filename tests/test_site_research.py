"""Imported companies researched from their own sites through the fetcher, against the web twin."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from gtm_pipeline.config import load_settings
from gtm_pipeline.domain.clock import ManualClock
from gtm_pipeline.domain.contracts import DraftFinding, result_model
from gtm_pipeline.domain.ids import email_hash, prospect_id
from gtm_pipeline.domain.sources import evidence_problems
from gtm_pipeline.domain.states import State
from gtm_pipeline.pipeline.discover import discover
from gtm_pipeline.pipeline.draft import build_context_pack, draft_first_touch
from gtm_pipeline.pipeline.importing import apply_plan, read_plan
from gtm_pipeline.pipeline.research import augment, fetch_sources, stored_sources
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.sources.site import visit_site
from gtm_pipeline.sources.web import build_fetcher
from gtm_pipeline.twins.web import WebTwin
from tests.conftest import HYPOTHESIS, TEST_START

SITES = Path(__file__).parent / "fixtures" / "web"


@pytest.fixture
def web_services(gtm_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Services, WebTwin]]:
    with WebTwin(SITES) as twin:
        monkeypatch.setenv("GTM_FETCH_ENABLED", "1")
        monkeypatch.setenv("GTM_FETCH_ALLOW", twin.address)
        monkeypatch.setenv("GTM_FETCH_CONNECT_TO", ",".join(twin.connect_to()))
        monkeypatch.setenv("GTM_FETCH_PAUSE_S", "0.01")
        svc = Services.from_settings(load_settings(), clock=ManualClock(TEST_START))
        yield svc, twin
        svc.close()


def import_acme(services: Services, tmp_path: Path) -> str:
    listing = tmp_path / "accounts.csv"
    listing.write_text("Company Name,Website\nAcme Health,https://www.acme-health.example/\n")
    apply_plan(
        services.store, read_plan(listing, []), services.hypotheses[HYPOTHESIS], {}, actor="operator:test"
    )
    return prospect_id("acme-health.example")


def test_a_site_visit_keeps_dated_pages_jobs_and_feed_and_names_every_refusal(
    web_services: tuple[Services, WebTwin],
) -> None:
    services, _twin = web_services
    assert services.web is not None
    visit = visit_site(services.web, "acme-health.example", today=TEST_START.date())
    by_id = {d.source_id: d for d in visit.documents}
    news = by_id["web/acme-health.example/news/compliance-automation"]
    assert news.published_on == dt.date(2026, 9, 14) and news.kind == "news"
    jobs = by_id["web/boards.greenhouse.io/acmehealth"]
    assert jobs.kind == "careers" and jobs.published_on == dt.date(2026, 10, 2)
    assert "Compliance Automation Engineer (Pune), posted or updated 2026-10-02" in jobs.text
    assert by_id["web/acme-health.example/about"].kind == "about"
    assert visit.provenance[news.source_id]["robots"] == "allowed (parsed robots.txt)"
    assert visit.provenance[news.source_id]["date_source"] == "json-ld"
    refused = {(r["url"], r["refused"]) for r in visit.refusals}
    assert ("https://acme-health.example/private/team-directory", "robots") in refused
    assert [p.final_url for p in visit.people_pages] == ["https://acme-health.example/team"]


def test_an_imported_company_is_fetched_qualified_on_a_dated_signal_and_given_its_published_contact(
    web_services: tuple[Services, WebTwin], tmp_path: Path
) -> None:
    services, _twin = web_services
    pid = import_acme(services, tmp_path)
    assert services.store.prospects.get(pid).contact_email is None  # type: ignore[union-attr]
    report = fetch_sources(services, pid)
    assert report.new >= 4
    stored = services.store.artifacts.of_kind(pid, "raw_source")
    assert all(a.meta["content_hash"] and a.meta["final_url"] and a.meta["robots"] for a in stored)
    kinds = [e.kind for e in services.store.journal.entries(pid)]
    assert "fetch_refused" in kinds and "contact_found" in kinds and "addressee_chosen" in kinds
    prospect = services.store.prospects.get(pid)
    assert prospect is not None and prospect.contact_email == "priya.raman@acme-health.example"
    contacts = {c.email: c for c in services.store.contacts.of(pid)}
    assert contacts["press@acme-health.example"].flags == ["role"]
    assert contacts["priya.raman@acme-health.example"].source == "https://acme-health.example/team"
    augment(services, pid)
    prospect = services.store.prospects.get(pid)
    assert prospect is not None and prospect.state is State.QUALIFIED
    (profile,) = services.store.artifacts.of_kind(pid, "profile")
    assert "acme-health.example" in (profile.content or "")
    # the team page was read for its people only: not kept as a source, not in the HTTP cache
    assert all("/team" not in a.source_id for a in stored if a.source_id)
    draft_first_touch(services, pid)
    (draft,) = services.store.artifacts.of_kind(pid, "draft")
    result = result_model(DraftFinding).model_validate_json(draft.content or "")
    texts = {s.source_id: s.text for s in stored_sources(services, pid)}
    assert result.finding.opener_source_id in texts  # the newest dated signal: the job board
    assert result.evidence and not evidence_problems(result.evidence, stored_sources(services, pid))
    assert all(ref.source_id in texts for ref in result.evidence)


def test_with_fetching_off_an_unknown_company_is_not_a_fit_and_says_why(
    gtm_home: Path, tmp_path: Path
) -> None:
    services = Services.from_settings(load_settings(), clock=ManualClock(TEST_START))
    try:
        pid = import_acme(services, tmp_path)
        fetch_sources(services, pid)
        augment(services, pid)
        entries = services.store.journal.entries(pid)
        assert any(
            e.kind == "fetch_skipped" and e.payload["reason"] == "fetch.enabled is off" for e in entries
        )
        prospect = services.store.prospects.get(pid)
        assert prospect is not None and prospect.state is State.DISCOVERED  # not a verdict on the company
        (escalation,) = services.store.escalations.open()
        assert escalation.kind == "research_blocked" and "fetch.enabled is off" in escalation.detail
    finally:
        services.close()


def test_a_qualified_company_without_a_reachable_person_waits_unreachable_with_its_context_pack(
    services: Services,
) -> None:
    report = discover(services, services.hypotheses[HYPOTHESIS])
    for pid in report.prospect_ids:
        fetch_sources(services, pid)
        augment(services, pid)
    qualified = [p for p in services.store.prospects.find(states=[State.QUALIFIED])]
    assert qualified
    pid = qualified[0].id
    services.store.prospects.set_addressee(pid, name=None, email=None, role=None)
    step = draft_first_touch(services, pid)
    assert step.state == State.UNREACHABLE.value
    assert services.store.artifacts.of_kind(pid, "draft") == []  # no email drafted: none could be sent
    last = services.store.journal.entries(pid)[-1]
    assert last.payload["event"] == "no_reachable_contact" and "context pack" in last.payload["rationale"]
    build_context_pack(services, pid)
    assert len(services.store.artifacts.of_kind(pid, "context_pack")) == 1


def test_a_site_that_answers_but_forbids_everything_is_not_a_fit_and_a_down_one_waits(
    web_services: tuple[Services, WebTwin], tmp_path: Path
) -> None:
    services, _twin = web_services
    listing = tmp_path / "two.csv"
    listing.write_text("Website,Company\nblocked.example,Blocked\ndown.example,Down\n")
    apply_plan(
        services.store, read_plan(listing, []), services.hypotheses[HYPOTHESIS], {}, actor="operator:test"
    )
    for domain in ("blocked.example", "down.example"):
        fetch_sources(services, prospect_id(domain))
        augment(services, prospect_id(domain))
    blocked = services.store.prospects.get(prospect_id("blocked.example"))
    down = services.store.prospects.get(prospect_id("down.example"))
    assert blocked is not None and blocked.state is State.NOT_A_FIT  # robots.txt said no: a verdict
    assert down is not None and down.state is State.DISCOVERED  # robots.txt answered 503: may pass
    assert [e.subject for e in services.store.escalations.open()] == [prospect_id("down.example")]
    from gtm_pipeline.cli.views import inputs_status

    shown = inputs_status(services.store)
    assert shown["left_the_funnel"] == {"the site let nothing be fetched": 1}
    assert shown["fetch_refused"]["robots"] >= 2  # blocked.example's pages, down.example's robots 503


def test_a_suppressed_person_published_on_a_team_page_is_never_stored_or_addressed(
    web_services: tuple[Services, WebTwin], tmp_path: Path
) -> None:
    services, _twin = web_services
    pid = import_acme(services, tmp_path)
    services.store.privacy.suppress(
        email_hash("priya.raman@acme-health.example"), kind="email", reason="erased"
    )
    fetch_sources(services, pid)
    prospect = services.store.prospects.get(pid)
    assert prospect is not None and prospect.contact_email is None
    assert all(c.email != "priya.raman@acme-health.example" for c in services.store.contacts.of(pid))


def test_an_erasure_empties_the_http_cache_of_pages_that_name_the_person(
    web_services: tuple[Services, WebTwin], tmp_path: Path
) -> None:
    from gtm_pipeline.pipeline.privacy import erase
    from tests.test_privacy import personal_forms, scan

    services, _twin = web_services
    pid = import_acme(services, tmp_path)
    fetch_sources(services, pid)
    augment(services, pid)
    cache = services.pages.path
    # The news page quotes the Head of Compliance by name: its cached copy is personal data too.
    assert b"Priya Raman" in cache.read_bytes() + cache.with_name(cache.name + "-wal").read_bytes()
    services.web.close()  # type: ignore[union-attr]  # (a fetcher left open elsewhere is fine too)
    report = erase(
        services.store,
        "priya.raman@acme-health.example",
        reason="data principal request",
        now=TEST_START,
        response_days=30,
        pages=services.pages,
    )
    assert report.counts["cached_pages"] >= 4 and report.compacted
    home = services.settings.paths.home
    assert scan(home, personal_forms("priya.raman@acme-health.example", "Priya Raman")) == []
    # The cache still works afterwards: the next fetch is a full download, then a 304 again.
    with build_fetcher(services.settings, services.clock) as fetcher:
        first = fetcher.get("https://acme-health.example/about")
        again = fetcher.get("https://acme-health.example/about")
    assert first.status == 200 and not first.from_cache and again.from_cache


def test_an_apollo_export_imported_with_run_is_fetched_qualified_or_skipped_with_reasons_and_drafted(
    tmp_path: Path,
) -> None:
    """The issue's "done when", as a new user runs it: `gtm import apollo.csv --run`, fetching on,
    the companies' sites served by the web twin; the clock is the machine's (any date)."""
    import json
    import os
    import subprocess
    import sys

    from gtm_pipeline.domain.clock import SystemClock
    from gtm_pipeline.store import Store

    today = SystemClock().now().date()
    fresh = (today - dt.timedelta(days=12)).isoformat()
    news = (SITES / "acme-health.example" / "news" / "compliance-automation.html").read_bytes()
    pages = {
        "acme-health.example": {"/news/compliance-automation": news.replace(b"2026-09-14", fresh.encode())}
    }
    header = (SITES.parent / "imports" / "apollo-people.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    rows = [
        "Priya,Raman,Head of Compliance,Acme Health,Acme Health,priya.raman@acme-health.example,Verified,"
        ",Director,Compliance,,,Hospital & Health Care,,,Pune,,India,http://www.acme-health.example,,",
        "Ola,Berg,CISO,Blocked Co,Blocked Co,ola@blocked.example,Verified,,Director,Security,,,"
        "Hospital & Health Care,,,Oslo,,Norway,https://blocked.example/,,",
        "Ines,Duarte,COO,Down Co,Down Co,ines@down.example,Verified,,Director,Operations,,,"
        "Hospital & Health Care,,,Porto,,Portugal,down.example,,",
    ]
    listing = tmp_path / "apollo-people.csv"
    listing.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    home = tmp_path / "home"
    with WebTwin(SITES, pages=pages) as twin:
        env = {  # the machine's environment (under libfaketime, its moved clock too), no GTM_ setting
            **{k: v for k, v in os.environ.items() if not k.startswith(("GTM_", "DAGSTER_"))},
            "GTM_HOME": str(home),
            "GTM_FETCH_ENABLED": "1",
            "GTM_FETCH_ALLOW": twin.address,
            "GTM_FETCH_CONNECT_TO": ",".join(twin.connect_to()),
            "GTM_FETCH_PAUSE_S": "0.01",
        }

        def gtm(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "gtm_pipeline.cli", *args],
                capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
            )  # fmt: skip

        done = gtm("import", str(listing), "--run")
        assert done.returncode == 0, done.stderr[-3000:]
        assert "imported 3 new companies" in done.stdout
        status = json.loads(gtm("status", "--json").stdout)
    assert status["summary"]["by_state"] == {"awaiting_review": 1, "discovered": 1, "not_a_fit": 1}
    assert status["inputs"]["left_the_funnel"] == {"the site let nothing be fetched": 1}
    assert status["inputs"]["fetch_refused"]["robots"] >= 2
    assert [e["kind"] for e in status["waiting"]["escalations"]] == ["research_blocked"]
    store = Store.open(f"sqlite:///{home / 'gtm.sqlite'}")
    try:
        acme = store.prospects.get(prospect_id("acme-health.example"))
        assert acme is not None and acme.state is State.AWAITING_REVIEW
        assert acme.contact_email == "priya.raman@acme-health.example"
        sources = {a.source_id: a for a in store.artifacts.of_kind(acme.id, "raw_source")}
        assert sources["web/acme-health.example/news/compliance-automation"].published_on.isoformat() == fresh  # type: ignore[union-attr]
        (draft,) = store.artifacts.of_kind(acme.id, "draft")
        result = result_model(DraftFinding).model_validate_json(draft.content or "")
        assert result.evidence
        for ref in result.evidence:  # drafted from real quotes of pages fetched from its own site
            text = sources[ref.source_id].content or ""
            assert " ".join(ref.quote.split()) in " ".join(text.split())
            assert ref.url.startswith("https://acme-health.example/") or "greenhouse" in ref.url
    finally:
        store.close()

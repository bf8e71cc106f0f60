"""The operator console driven in headless Chromium (Playwright with Debian's chromium)."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from gtm_pipeline.app import create_app
from gtm_pipeline.config import load_settings
from gtm_pipeline.domain.states import State
from gtm_pipeline.evals import journal_eval, load_eval_set, run_eval, verdict
from gtm_pipeline.outreach.local_server import serving
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.skills.catalog import load_catalog
from tests.conftest import STARTER
from tests.helpers import run_all

PASSWORD = "correct horse battery staple"


def _chromium() -> str:
    found = os.environ.get("GTM_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise RuntimeError("Debian's chromium is required for the console tests (.ci/run installs it)")
    return found


@pytest.fixture
def console(
    gtm_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Services]]:
    """The demo pipeline, a private copy of the skills (promotion moves folders), the app over HTTP."""
    skills = tmp_path / "skills"
    shutil.copytree(STARTER / "skills", skills)
    group = skills / "writing-copilot" / "GROUP.md"
    text = group.read_text()
    text = text.replace("promote_min_reviews: 20", "promote_min_reviews: 1")
    text = text.replace("promote_max_edit_rate: 0.25", "promote_max_edit_rate: 1.0")
    group.write_text(text)
    monkeypatch.setenv("GTM_SKILLS_DIR", str(skills))
    monkeypatch.setenv("GTM_OPERATOR_PASSWORD", PASSWORD)
    monkeypatch.setenv("GTM_OPERATOR", "ana")
    services = Services.from_settings(load_settings())
    run_all(services)
    with serving(create_app(services.settings, services=services)) as base:
        yield base, services
    services.close()


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"], headless=True)
        yield launched
        launched.close()


def _logged_in(browser: Browser, base: str) -> Page:
    """A new page, logged in (after one wrong password, which must be refused)."""
    page = browser.new_page()
    _login(page, base)
    return page


def _login(page: Page, base: str) -> None:
    page.goto(f"{base}/")
    expect(page).to_have_url(re.compile(r"/login$"))
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    expect(page.locator(".flash.error")).to_contain_text("Wrong password")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Prospects by state")


def test_the_operator_logs_in_and_sees_the_board(console: tuple[str, Services], browser: Browser) -> None:
    base, services = console
    page = _logged_in(browser, base)
    counts = services.store.prospects.counts_by_state()
    expect(page.locator(".counts")).to_contain_text(f"awaiting_review {counts['awaiting_review']}")
    page.select_option("select[name=state]", "not_a_fit")
    page.click("form[action='/'] button[type=submit]")
    expect(page.locator("tbody tr")).to_have_count(counts["not_a_fit"])
    assert "@" not in page.url  # filters only, never personal data in URLs
    # Where the inputs went: every prospect that left before a touch, under its reason, linked to its state
    page.goto(f"{base}/")
    panel = page.locator("#inputs-panel")
    expect(panel).to_be_visible()
    expect(panel.locator("h2")).to_have_text("Where inputs went (last 7 days)")
    left = counts["not_a_fit"]
    reasons = panel.locator("#inputs-left a[href='/?state=not_a_fit']")
    expect(reasons.first).to_be_visible()  # the demo's companies outside the segment, with the reason
    shown = sum(
        int(text.rsplit(" ", 1)[1])
        for text in panel.locator("#inputs-left .inputs-reason[data-state=not_a_fit]").all_inner_texts()
    )
    assert shown == left  # every one that left before a touch is counted under a reason
    reasons.first.click()
    expect(page).to_have_url(re.compile(r"/\?state=not_a_fit$"))
    expect(page.locator("tbody tr")).to_have_count(left)


def test_approve_an_edited_draft_and_see_the_send_scheduled(
    console: tuple[str, Services], browser: Browser
) -> None:
    base, services = console
    page = _logged_in(browser, base)
    page.goto(f"{base}/reviews")
    card = page.locator("section.card").first
    review_id = int((card.get_attribute("id") or "").split("-")[1])
    prospect_id = card.get_attribute("data-prospect")
    card.locator("input[name=subject]").fill("Your audit-trail rollout")
    card.locator("textarea[name=body]").fill(
        "Hi, I read about your audit-trail rollout. We help teams keep evidence current without "
        "spreadsheets. Would a short call next week be useful?\n\nBest regards,\nAlex"
    )
    card.locator("button[name=approve]").click()
    expect(card.locator(".flash.ok")).to_contain_text(f"#{review_id} edited and approved; send scheduled")
    prospect = services.store.prospects.get(str(prospect_id))
    assert prospect is not None and prospect.state is State.SCHEDULED
    page.goto(f"{base}/prospects/{prospect_id}")
    expect(page.locator("#prospect-state")).to_have_text("scheduled")
    link = page.locator("#dagster-partitions a", has_text="draft")
    expect(link).to_have_attribute(
        "href", f"http://127.0.0.1:3000/assets/draft?view=partitions&partition={prospect_id}"
    )
    expect(page.locator("tr.journal-entry[data-kind=draft_edited]")).to_have_count(1)
    edits = [e for e in services.store.journal.entries(str(prospect_id)) if e.kind == "draft_edited"]
    assert edits[0].payload["edit_distance"] > 0 and edits[0].actor == "operator:ana"


def test_reject_a_draft_with_a_reason(console: tuple[str, Services], browser: Browser) -> None:
    base, services = console
    page = _logged_in(browser, base)
    page.goto(f"{base}/reviews")
    card = page.locator("section.card").nth(1)
    prospect_id = str(card.get_attribute("data-prospect"))
    card.locator("input[name=reason]").fill("opener misreads their announcement")
    card.locator("button[name=reject]").click()
    expect(card.locator(".flash.ok")).to_contain_text("rejected: opener misreads their announcement")
    rejected = [
        e for e in services.store.journal.entries(prospect_id) if e.payload.get("event") == "draft_rejected"
    ]
    assert rejected and rejected[0].payload["rationale"] == "opener misreads their announcement"
    assert services.store.prospects.get(prospect_id).state is State.QUALIFIED  # type: ignore[union-attr]


def test_retry_a_dead_letter_and_acknowledge_its_escalation(
    console: tuple[str, Services], browser: Browser
) -> None:
    base, services = console
    page = _logged_in(browser, base)
    page.goto(f"{base}/dead-letters")
    card = page.locator("section.card").first
    dead_id = int((card.get_attribute("id") or "").split("-")[1])
    card.locator("button[name=retry]").click()
    expect(card.locator(".flash")).to_contain_text(f"dead letter #{dead_id} retried")
    retried = services.store.journal.of_kind("dead_letter_retried", services.clock.now().replace(year=2000))
    assert [e.payload["dead_letter_id"] for e in retried] == [dead_id]
    page.goto(f"{base}/escalations")
    rows = page.locator("tbody tr")
    before = rows.count()
    assert before >= 1  # the dead letter (and its repeat after the retry) wait for the operator
    rows.first.locator("button").click()
    expect(page.locator(".flash.ok")).to_contain_text("acknowledged")
    page.goto(f"{base}/escalations")
    expect(page.locator("tbody tr")).to_have_count(before - 1)


def test_promote_a_skill_and_see_the_journal_entry(console: tuple[str, Services], browser: Browser) -> None:
    base, services = console
    page = _logged_in(browser, base)
    page.goto(f"{base}/skills")
    row = page.locator("#skill-draft-first-touch")
    expect(row.locator("form[action$='/promote']")).to_have_count(0)  # below the bar: no button
    expect(row.locator(".blocker")).to_have_text(
        [
            "no reviewed drafts yet: 1 review needed",
            "no eval of draft-first-touch@1.0.0 yet: run `gtm eval draft-first-touch`",
        ]
    )
    page.goto(f"{base}/reviews")
    page.locator("section.card").first.locator("button[name=approve]").click()
    expect(page.locator(".flash.ok").first).to_contain_text("approved")
    catalog = load_catalog(services.catalog.root)  # what `gtm eval draft-first-touch` does
    skill = catalog.skill("draft-first-touch")
    run = run_eval(
        catalog, skill.name, load_eval_set(skill), services.router, services.prices, services.clock
    )
    journal_eval(services.store, verdict(run), actor="operator:ana")
    page.goto(f"{base}/skills")
    page.locator("#skill-draft-first-touch form[action$='/promote'] button").click()
    expect(page.locator("#skill-result .flash.ok")).to_contain_text(
        "draft-first-touch promoted to writing-dark-factory (dark-factory)"
    )
    page.goto(f"{base}/skills")
    expect(page.locator("#skill-moves")).to_contain_text("skill_promoted: draft-first-touch@1.0.0")
    expect(page.locator("#skill-draft-first-touch .group")).to_contain_text("writing-dark-factory")
    skills = Path(os.environ["GTM_SKILLS_DIR"])
    assert (skills / "writing-dark-factory" / "draft-first-touch" / "SKILL.md").is_file()
    evaluated, entry = services.store.journal.entries("skill:draft-first-touch")
    assert evaluated.kind == "skill_eval" and entry.kind == "skill_promoted" and entry.actor == "operator:ana"
    assert entry.payload["eval"]["entry_id"] == evaluated.entry_id  # the eval the promotion relied on
    assert entry.payload["record"]["reviews"] == 1 and entry.payload["record"]["approval_rate"] == 1.0


def test_requests_without_a_session_or_a_csrf_token_are_refused(
    console: tuple[str, Services], browser: Browser
) -> None:
    base, services = console
    review_id = services.store.reviews.pending()[0].id
    assert httpx.get(f"{base}/reviews", follow_redirects=False).status_code == 303
    assert httpx.post(f"{base}/reviews/{review_id}/approve", data={"csrf": "x"}).status_code == 401
    page = _logged_in(browser, base)
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    with httpx.Client(base_url=base, cookies=cookies) as client:
        assert client.get("/reviews").status_code == 200
        assert client.post(f"/reviews/{review_id}/approve").status_code == 403
        assert client.post(f"/reviews/{review_id}/approve", data={"csrf": "forged"}).status_code == 403
        forged = {**cookies, "gtm_session": cookies["gtm_session"][:-2] + "xx"}
    assert httpx.get(f"{base}/reviews", cookies=forged, follow_redirects=False).status_code == 303
    assert services.store.reviews.get(review_id).status == "pending"  # type: ignore[union-attr]


def test_record_and_carry_out_erasure_and_access_requests(
    console: tuple[str, Services], browser: Browser
) -> None:
    base, services = console
    store = services.store
    contacts = [p for p in store.prospects.find() if p.contact_email]
    erased, accessed = contacts[0], contacts[1]
    page = browser.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # the "cannot be undone" confirmation
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    _login(page, base)
    page.goto(f"{base}/rights")
    page.select_option("#record-request select[name=kind]", "erasure")
    page.fill("#record-request input[name=email]", "not an address")
    page.evaluate("document.querySelector('#record-request input[name=email]').type = 'text'")
    page.click("#record-request button[type=submit]")
    expect(page.locator("#flash.error")).to_contain_text("an email address is needed")
    page.select_option("#record-request select[name=kind]", "erasure")
    page.fill("#record-request input[name=email]", str(erased.contact_email).upper())
    page.click("#record-request button[type=submit]")
    expect(page.locator("#flash.ok")).to_contain_text("recorded")
    row = page.locator("tbody tr", has_text="erasure")
    expect(row).to_contain_text(erased.id)  # found by the address's hash, whatever its case
    row.locator("form[action$='/erase'] button").click()
    expect(page.locator("#flash.ok")).to_contain_text("erased 1 prospect(s); ")
    expect(page.locator("#flash.ok")).to_contain_text("journal entries")  # where it was found, counted
    after = store.prospects.get(erased.id)
    assert after is not None and after.state is State.DO_NOT_CONTACT and not after.contact_email
    assert store.privacy.suppression_reason(erased.id) is not None
    (request,) = [r for r in store.privacy.rights_requests() if r["kind"] == "erasure"]
    assert request["status"] == "completed" and str(erased.contact_email) not in str(request)

    page.select_option("#record-request select[name=kind]", "access")
    page.fill("#record-request input[name=email]", str(accessed.contact_email))
    page.click("#record-request button[type=submit]")
    with page.expect_download() as download:
        page.locator("tbody tr", has_text="access").locator("form[action$='/export'] button").click()
    held = json.loads(Path(download.value.path()).read_text())
    assert [p["prospect_id"] for p in held["prospects"]] == [accessed.id]
    assert held["prospects"][0]["contact"]["email"] == accessed.contact_email
    page.goto(f"{base}/rights")
    expect(page.locator("tbody tr", has_text="access")).to_contain_text("completed")
    assert not [u for u in urls if "@" in u or "%40" in u]  # addresses go in form bodies, never URLs


def test_the_skills_page_reads_the_folders_as_they_are_now(
    console: tuple[str, Services], browser: Browser
) -> None:
    base, _services = console
    skills = Path(os.environ["GTM_SKILLS_DIR"])
    page = _logged_in(browser, base)
    page.goto(f"{base}/skills")
    expect(page.locator("#skill-context-pack .group")).to_contain_text("writing-copilot")
    # another process (or a git pull) promoted it: the console must not act on a stale catalog
    shutil.move(skills / "writing-copilot" / "context-pack", skills / "writing-dark-factory")
    page.goto(f"{base}/skills")
    expect(page.locator("#skill-context-pack .group")).to_contain_text("writing-dark-factory")
    page.locator("#skill-context-pack form[action$='/demote'] button").click()
    expect(page.locator("#skill-result .flash.ok")).to_contain_text("context-pack demoted to writing-copilot")
    assert (skills / "writing-copilot" / "context-pack" / "SKILL.md").is_file()


def test_a_review_card_shows_the_score_and_each_signals_part_of_it(
    console: tuple[str, Services], browser: Browser
) -> None:
    """The reviewer sees why the company is in the queue: discovery's score, and per signal its kind,
    date, weight times recency and the quote with its source, strongest first."""
    base, services = console
    page = _logged_in(browser, base)
    blocked: list[str] = []  # the page runs under a strict CSP: anything it blocks is a bug
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{base}/reviews")
    cards = page.locator("section.card")
    assert cards.count() > 0
    card = cards.first  # typing in a draft marks it edited (console.js, not an inline handler)
    assert card.locator(".edited-flag").input_value() == "0"
    card.locator("textarea[name=body]").press_sequentially(" ")
    assert card.locator(".edited-flag").input_value() == "1"
    for index in range(cards.count()):
        card = cards.nth(index)
        pid = str(card.get_attribute("data-prospect"))
        (found,) = [e for e in services.store.journal.entries(pid) if e.kind == "discovered"]
        signals = sorted(found.payload["signals"], key=lambda s: -s["contribution"])
        expect(card.locator(".why-here .score")).to_have_text(f"score {found.payload['score']:.2f}")
        rows = card.locator(".why-here tr.signal")
        expect(rows).to_have_count(len(signals))
        for row, signal in zip(rows.all(), signals, strict=True):
            assert row.get_attribute("data-kind") == signal["kind"]
            text = row.inner_text()
            assert signal["date"] in text
            part = f"{signal['contribution']:.2f} = {signal['weight']:.2f} \u00d7 {signal['recency']:.2f}"
            assert part in text
            assert row.locator("a").get_attribute("href") == signal["url"]
    assert blocked == []

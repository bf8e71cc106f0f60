"""The console's own stylesheet and charts in headless Chromium, under the real CSP (issue 17, item 3).

What a person sees is checked as the browser computes it: the login page is laid out by
``static/console.css`` (nothing inline: the CSP would refuse it), focus is visible from the
keyboard, and the charts are drawn with their axes and a point per week.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from gtm_pipeline.app import create_app
from gtm_pipeline.config import load_settings
from gtm_pipeline.domain.clock import ManualClock
from gtm_pipeline.domain.states import State
from gtm_pipeline.outreach.local_server import serving
from gtm_pipeline.pipeline.services import Services
from tests.conftest import STARTER, TEST_START
from tests.helpers import run_all, send_first_touch

PASSWORD = "correct horse battery staple"
OWN_PAGES = ["/", "/dead-letters", "/escalations", "/skills", "/charts", "/rights"]


def _chromium() -> str:
    found = os.environ.get("GTM_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise RuntimeError("Debian's chromium is required for the console tests (.ci/run installs it)")
    return found


@pytest.fixture
def console(gtm_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The demo on a manual clock, two first touches sent three weeks apart, the app over HTTP."""
    skills = tmp_path / "skills"
    shutil.copytree(STARTER / "skills", skills)
    monkeypatch.setenv("GTM_SKILLS_DIR", str(skills))
    monkeypatch.setenv("GTM_OPERATOR_PASSWORD", PASSWORD)
    services = Services.from_settings(load_settings(), clock=ManualClock(TEST_START))
    run_all(services)
    waiting = [p.id for p in services.store.prospects.find() if p.state is State.AWAITING_REVIEW]
    send_first_touch(services, waiting[0], TEST_START - dt.timedelta(weeks=3))
    send_first_touch(services, waiting[1], TEST_START)
    with serving(create_app(services.settings, services=services)) as base:
        yield base
    services.close()


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"], headless=True)
        yield launched
        launched.close()


def _watched(browser: Browser) -> tuple[Page, list[str]]:
    """A page whose CSP refusals (console messages and securitypolicyviolation events) are collected."""
    page = browser.new_page()
    refused: list[str] = []

    def seen(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            refused.append(message.text)

    page.on("console", seen)
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => "
        "console.error('Refused to load (CSP): ' + e.violatedDirective + ' ' + e.blockedURI));"
    )
    return page, refused


def _style(page: Page, selector: str, prop: str) -> str:
    return str(page.eval_on_selector(selector, f"el => getComputedStyle(el).{prop}"))


def test_the_login_page_is_styled_by_the_consoles_stylesheet_under_the_csp(
    console: str, browser: Browser
) -> None:
    page, refused = _watched(browser)
    response = page.goto(f"{console}/login")
    assert response is not None and "style-src 'self'" in response.headers["content-security-policy"]
    rules = page.evaluate("[...document.styleSheets].map(s => [new URL(s.href).pathname, s.cssRules.length])")
    assert rules and rules[0][0] == "/static/console.css" and rules[0][1] > 50  # our sheet, loaded
    assert page.evaluate("document.querySelectorAll('[style], style').length") == 0  # nothing inline
    card = page.locator(".login-card")
    expect(card).to_be_visible()
    assert _style(page, "body", "display") == "flex"  # the card is centred
    assert _style(page, ".login-card", "backgroundColor") == "rgb(255, 255, 255)"
    assert _style(page, ".login-card", "borderTopLeftRadius") == "10px"
    assert _style(page, "body", "backgroundColor") == "rgb(245, 246, 249)"
    box = card.bounding_box()
    viewport = page.viewport_size
    assert box is not None and viewport is not None
    assert box["width"] <= 380 and abs(box["x"] + box["width"] / 2 - viewport["width"] / 2) < 2
    assert _style(page, "button[type=submit]", "backgroundColor") == "rgb(31, 95, 168)"
    page.keyboard.press("Tab")  # from the password field to the button: the focus ring shows
    assert page.evaluate("document.activeElement.type") == "submit"
    assert _style(page, "button[type=submit]", "outlineStyle") == "solid"
    assert _style(page, "button[type=submit]", "outlineColor") == "rgb(240, 165, 0)"
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    expect(page.locator(".flash.error")).to_contain_text("Wrong password")
    assert _style(page, ".flash.error", "backgroundColor") == "rgb(251, 231, 231)"
    assert refused == []


def test_the_charts_render_with_axes_labels_and_a_point_per_week(console: str, browser: Browser) -> None:
    page, refused = _watched(browser)
    page.goto(f"{console}/login")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Prospects by state")
    page.goto(f"{console}/charts")
    rates = page.locator("svg.chart.rates")
    expect(rates).to_be_visible()
    box = rates.bounding_box()
    assert box is not None and box["width"] > 500 and box["height"] > 200
    expect(rates.locator("circle.series-reply")).to_have_count(12)
    expect(rates.locator("circle.series-positive")).to_have_count(12)
    expect(rates.locator(".x-tick")).to_have_count(12)
    expect(rates.locator(".axis-title").first).to_have_text("share of sends")
    assert _style(page, "svg.rates polyline.series-reply", "stroke") == "rgb(31, 95, 168)"
    assert _style(page, "svg.rates polyline.series-reply", "fill") == "none"  # a line, not a shape
    sent = rates.locator(".sent").all_text_contents()
    assert sent.count("1") == 2 and len(sent) == 12  # the two sends, in weeks three apart, zeros between
    line = rates.locator("polyline.series-reply").bounding_box()
    assert line is not None and line["width"] > 500  # spans the weeks, not two dots
    funnel = page.locator("svg.chart.funnel").first
    expect(funnel).to_be_visible()
    expect(funnel.locator("rect.bar")).to_have_count(7)  # discovered ... won
    widths = [b["width"] for b in (r.bounding_box() for r in funnel.locator("rect.bar").all()) if b]
    assert widths[0] > widths[1] > 0  # discovered is the longest bar; qualified fewer
    assert _style(page, "svg.funnel rect.bar.stage-1", "fill") == "rgb(58, 116, 184)"
    expect(page.locator("#weekly-table tbody tr")).to_have_count(12)
    for path in OWN_PAGES:  # every page of this work: the sheet applies and nothing is refused
        page.goto(f"{console}{path}")
        assert _style(page, "header.site", "backgroundColor") == "rgb(27, 34, 48)"
        assert page.evaluate("document.querySelectorAll('[style], style').length") == 0
    assert refused == []

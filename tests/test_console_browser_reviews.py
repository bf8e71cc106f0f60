"""Reviewing drafts with the keyboard in headless Chromium (issue 17, items 2 and 6): j/k, a, e,
r with a reason from the short list or typed, ?; approve-and-next swaps the next card in without
a page load, under the console's strict CSP."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from gtm_pipeline.console import review_queue
from gtm_pipeline.console.review_queue import REJECT_REASONS
from gtm_pipeline.domain.states import State
from gtm_pipeline.pipeline.services import Services
from tests.test_console_browser import _logged_in, browser, console  # noqa: F401  (fixtures)


def _watch_csp(page: Page) -> list[str]:
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    return blocked


def _card(page: Page, key: str) -> None:
    """The triage card is ``key``'s, its URL is in the address bar, and the page never reloaded."""
    expect(page.locator("#triage section.review-card")).to_have_attribute("data-key", key)
    expect(page).to_have_url(re.compile(rf"/reviews/{key}$"))
    assert page.evaluate("window.loadedOnce") is True


def test_triage_five_drafts_with_the_keyboard_without_a_page_load(
    console: tuple[str, Services],  # noqa: F811
    browser: Browser,  # noqa: F811
) -> None:
    base, services = console
    store = services.store
    keys = [q.key for q in review_queue.ordered(store)]
    assert len(keys) >= 6
    page = _logged_in(browser, base)
    blocked = _watch_csp(page)
    page.goto(f"{base}/reviews")
    help_box = page.locator("#review-help")
    expect(help_box).to_be_hidden()
    page.keyboard.press("?")
    expect(help_box).to_be_visible()
    page.keyboard.press("Escape")
    expect(help_box).to_be_hidden()
    page.click("#triage-start")
    expect(page.locator("#triage-position")).to_have_text(f"1 of {len(keys)}")
    page.evaluate("window.loadedOnce = true")  # gone if anything below reloads the page
    _card(page, keys[0])

    page.keyboard.press("j")
    _card(page, keys[1])
    page.keyboard.press("k")
    _card(page, keys[0])

    page.keyboard.press("a")  # approve, and the next card comes in
    _card(page, keys[1])
    expect(page.locator("#triage-flash.ok")).to_contain_text(f"{keys[0]} · ")
    expect(page.locator("#triage-flash.ok")).to_contain_text("approved")
    first = store.reviews.resolve(keys[0])
    assert first is not None and first.status == "approved"

    page.keyboard.press("e")  # edit: the cursor is in the body; Ctrl+Enter approves the edit
    expect(page.locator("#triage textarea[name=body]")).to_be_focused()
    page.keyboard.type(" Happy to send a one-page summary first.")
    page.keyboard.press("Control+Enter")
    _card(page, keys[2])
    expect(page.locator("#triage-flash.ok")).to_contain_text("edited and approved")
    second = store.reviews.resolve(keys[1])
    assert second is not None and second.status == "approved"
    edits = [e for e in store.journal.entries(second.prospect_id) if e.kind == "draft_edited"]
    assert len(edits) == 1 and edits[0].actor == "operator:ana"

    page.keyboard.press("r")  # reject with the second reason of the short list
    expect(page.locator("#triage input[name=reason]")).to_be_focused()
    page.keyboard.press("2")
    _card(page, keys[3])
    expect(page.locator("#triage-flash.ok")).to_contain_text(f"rejected: {REJECT_REASONS[1]}")

    page.keyboard.press("r")  # or a reason in the operator's words
    expect(page.locator("#triage input[name=reason]")).to_be_focused()
    page.keyboard.type("mentions last year's event")
    page.keyboard.press("Enter")
    _card(page, keys[4])
    expect(page.locator("#triage-flash.ok")).to_contain_text("rejected: mentions last year's event")
    for key, reason in ((keys[2], REJECT_REASONS[1]), (keys[3], "mentions last year's event")):
        item = store.reviews.resolve(key)
        assert item is not None and item.status == "rejected"
        assert store.prospects.get(item.prospect_id).state is State.QUALIFIED  # type: ignore[union-attr]
        assert store.journal.entries(item.prospect_id)[-1].payload["rationale"] == reason

    page.keyboard.press("k")  # the decided ones are out of the queue: back is the first still pending
    expect(page.locator("#triage-position")).to_have_text(f"1 of {len(keys) - 4}")
    assert page.evaluate("window.loadedOnce") is True
    page.go_back()  # the browser's back button: the card decided last, as it is now (from the server)
    expect(page.locator("#triage section.review-card")).to_have_attribute("data-key", keys[3])
    expect(page.locator("#triage .decided-status")).to_contain_text("rejected mentions last year's event")
    expect(page.locator("#triage button[name=approve]")).to_have_count(0)
    assert blocked == []


def test_the_list_page_moves_to_the_next_card_after_a_decision(
    console: tuple[str, Services],  # noqa: F811
    browser: Browser,  # noqa: F811
) -> None:
    base, services = console
    page = _logged_in(browser, base)
    blocked = _watch_csp(page)
    page.goto(f"{base}/reviews")
    cards = page.locator("section.review-card")
    expect(cards.nth(0)).to_have_class(re.compile(r"\bcurrent\b"))
    page.keyboard.press("j")
    expect(cards.nth(1)).to_have_class(re.compile(r"\bcurrent\b"))
    expect(cards.nth(0)).not_to_have_class(re.compile(r"\bcurrent\b"))
    key = str(cards.nth(1).get_attribute("data-key"))
    page.keyboard.press("a")
    expect(cards.nth(1).locator(".flash.ok")).to_contain_text(f"{key} · ")
    expect(cards.nth(1)).to_have_class(re.compile(r"\bdecided\b"))
    expect(cards.nth(2)).to_have_class(re.compile(r"\bcurrent\b"))
    page.keyboard.press("k")  # back skips nothing undecided: the first card
    expect(cards.nth(0)).to_have_class(re.compile(r"\bcurrent\b"))
    item = services.store.reviews.resolve(key)
    assert item is not None and item.status == "approved"
    # the filters narrow the list; a bad value is refused in words, not a 500
    page.goto(f"{base}/reviews?hypothesis=no-such-hypothesis")
    expect(cards).to_have_count(0)
    assert page.goto(f"{base}/reviews?min_conf=200").status == 400  # type: ignore[union-attr]
    assert blocked == []

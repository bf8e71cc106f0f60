"""The prospect page's timeline in headless Chromium: an operator reads the whole conversation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, ConsoleMessage, expect

from gtm_pipeline.app import create_app
from gtm_pipeline.config import load_settings
from gtm_pipeline.outreach.local_server import serving
from gtm_pipeline.pipeline.services import Services
from tests.test_console_browser import PASSWORD, _login, browser
from tests.test_console_timeline import EDITED_SUBJECT, Campaign, run_campaign

__all__ = ["browser"]  # the shared headless Chromium fixture

REPLY = "Thanks for reaching out - this is timely for us. Happy to set up a call next week."


@pytest.fixture
def served(services: Services, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Campaign]]:
    """A rehearsed campaign (sends, replies, an edited draft) and the console over HTTP."""
    campaign = run_campaign(services)
    monkeypatch.setenv("GTM_OPERATOR_PASSWORD", PASSWORD)
    with serving(create_app(load_settings(), services=services)) as base:
        yield base, campaign


def test_the_operator_reads_the_conversation_in_order(served: tuple[str, Campaign], browser: Browser) -> None:
    base, campaign = served
    page = browser.new_page()
    refused: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused" in message.text:
            refused.append(message.text)

    page.on("console", watch)
    _login(page, base)
    page.goto(f"{base}/prospects/{campaign.replied}")
    timeline = page.locator("#timeline")
    expect(timeline).to_be_visible()
    ids = [i for i in timeline.locator("tr.tl-item").evaluate_all("rows => rows.map(r => r.id)") if i]
    assert (
        ids.index("draft-v1")
        < ids.index("touch-1")
        < next(n for n, i in enumerate(ids) if i.startswith("inbound-"))
    )

    email = page.locator("#touch-1")
    expect(email.locator(".tl-title")).to_have_text("Email #1 sent")
    expect(email.locator(".tl-header[data-header=List-Unsubscribe]")).to_contain_text("/unsubscribe/")
    expect(email.locator(".tl-text")).to_contain_text("Why you are getting this")

    reply = page.locator("tr.tl-email_received")
    expect(reply.locator(".reply-text")).to_have_text(REPLY)
    expect(reply.locator(".tl-class")).to_contain_text(
        "Classified interested by the skill skill:classify-reply@"
    )
    expect(reply.locator(".tl-class")).to_contain_text("confidence 0.")
    history = reply.locator("details.tl-quoted pre")
    expect(history).to_be_hidden()  # the quoted history is folded
    reply.locator("details.tl-quoted summary").click()
    expect(history).to_be_visible()
    expect(history).to_contain_text("> Hi")

    words = page.locator("tr.journal-entry[data-kind=transition] .tl-title").all_inner_texts()
    assert "Email accepted by the provider → now sent" in words and "Reply received → now replied" in words
    expect(page.locator("#context-pack")).to_contain_text("Connection note:")
    # the page's own stylesheet applies under the CSP: an email row is tinted, not transparent
    tint = email.evaluate("row => getComputedStyle(row).backgroundColor")
    assert tint not in ("rgba(0, 0, 0, 0)", "transparent")
    assert refused == []

    page.goto(f"{base}/prospects/{campaign.edited}")
    edit = page.locator("#draft-v2")
    expect(edit.locator(".tl-title")).to_have_text("Draft v2: edited by the operator")
    expect(edit.locator(".tl-diff .tl-add").first).to_contain_text(f"+Subject: {EDITED_SUBJECT}")
    expect(edit.locator(".tl-diff .tl-del").first).to_contain_text("-Subject: ")
    expect(page.locator("tr.journal-entry[data-kind=draft_edited]")).to_have_count(1)
    expect(page.locator("#touch-1 .tl-subject")).to_have_text(EDITED_SUBJECT)  # what was sent is the edit
    page.close()

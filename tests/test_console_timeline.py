"""A prospect's story (console/timeline.py) over a rehearsed campaign: order, the words of each
email and reply, who classified a reply, draft edits as diffs, journal entries in words, and a
tombstone where a person was erased."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from gtm_pipeline.app import create_app
from gtm_pipeline.config import load_settings
from gtm_pipeline.console import timeline, timeline_text
from gtm_pipeline.console.actions import approve
from gtm_pipeline.pipeline.privacy import erase
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.rehearsal import rehearse
from tests.conftest import sending_on
from tests.helpers import run_all

MONDAY_10 = dt.datetime(2026, 11, 23, 10, tzinfo=dt.UTC)
EDITED_SUBJECT = "Your audit-trail rollout"
EDITED_BODY = (
    "Hi, I read about your audit-trail rollout. We help teams keep evidence current without "
    "spreadsheets. Would a short call next week be useful?\n\nBest regards,\nAlex"
)
PASSWORD = "correct horse battery staple"


@dataclass
class Campaign:
    services: Services
    behaviours: dict[str, str]
    edited: str  # the prospect whose draft the operator edited before approving (its email: silent)
    replied: str  # the prospect who answered "interested"


def run_campaign(services: Services) -> Campaign:
    """The demo pipeline, one draft edited by the operator, then a rehearsed campaign (sends,
    webhooks, replies) on the simulated days the manual clock gives."""
    run_all(services)
    first, second, third, *_ = [i for i in services.store.reviews.pending() if i.kind == "draft"]
    approve(services, first.id, actor="operator:ana", subject=EDITED_SUBJECT, body=EDITED_BODY)
    sending_on(services)
    chosen = {second.prospect_id: "interested", third.prospect_id: "unsubscribe"}
    report = rehearse(services, behaviours=chosen, start=MONDAY_10, duplicates=2, reorder=True)
    assert report.states[second.prospect_id] == "replied", report.states
    return Campaign(services, dict(report.behaviours), first.prospect_id, second.prospect_id)


@pytest.fixture
def campaign(services: Services) -> Campaign:
    return run_campaign(services)


def _kinds(story: timeline.Story) -> list[str]:
    return [
        i.kind if i.journal is None else f"journal:{i.journal.kind}:{i.journal.payload.get('event')}"
        for i in story.items
    ]


def _index(story: timeline.Story, predicate: object) -> int:
    return next(n for n, item in enumerate(story.items) if predicate(item))  # type: ignore[operator]


def test_the_story_reads_in_order_with_the_email_sent_and_the_reply_text(campaign: Campaign) -> None:
    store = campaign.services.store
    pid = campaign.replied
    story = timeline.story(store, pid)
    assert story is not None
    moments = [i.at for i in story.items]
    assert moments == sorted(moments), "ordered by when each thing happened"

    sent = _index(story, lambda i: i.kind == "email_sent")
    sent_entry = _index(story, lambda i: i.journal is not None and i.journal.payload.get("event") == "sent")
    reply = _index(story, lambda i: i.kind == "email_received")
    classified = _index(
        story, lambda i: i.journal is not None and i.journal.actor.startswith("skill:classify-reply")
    )
    replied = _index(
        story, lambda i: i.journal is not None and i.journal.payload.get("event") == "reply_received"
    )
    drafts = [n for n, i in enumerate(story.items) if i.kind == "draft"]
    assert len(drafts) == 1 and drafts[-1] < sent < sent_entry < reply < classified < replied, _kinds(story)

    email = story.items[sent].detail
    (touch,) = store.ledger.touches(pid)
    draft = story.items[drafts[0]].detail
    assert email["subject"] == draft["subject"] and email["text"].startswith(draft["body"])
    assert "Why you are getting this" in email["text"]  # the exact text sent, notice included
    assert (
        email["headers"]["List-Unsubscribe"].startswith("<http://")
        and "One-Click" in email["headers"]["List-Unsubscribe-Post"]
    )
    assert email["headers"]["Message-ID"] == touch.message_id
    assert (
        email["idempotency_key_hash"] not in touch.idempotency_key
        and len(email["idempotency_key_hash"]) == 16
    )

    answer = story.items[reply].detail
    assert (
        answer["text"] == "Thanks for reaching out - this is timely for us. Happy to set up a call next week."
    )
    assert answer["quoted"].startswith("On ") and "> Hi" in answer["quoted"]  # our email, folded apart
    assert answer["classification"]["category"] == "interested"
    assert answer["classification"]["by"] == "skill" and answer["classification"]["decided_by"].startswith(
        "skill:classify-reply@"
    )
    assert isinstance(answer["classification"]["confidence"], float)
    assert answer["from_contact"] is True

    prospect = store.prospects.get(pid)
    assert prospect is not None and prospect.contact_email
    dumped = json.dumps(story.as_json())
    assert prospect.contact_email not in dumped  # an address is given by its hash only
    assert timeline_text.as_text(story).count(answer["text"]) == 1


def test_a_stop_request_was_decided_by_a_rule(campaign: Campaign) -> None:
    pid = next(p for p, b in campaign.behaviours.items() if b == "unsubscribe")
    story = timeline.story(campaign.services.store, pid)
    assert story is not None
    (reply,) = [i for i in story.items if i.kind == "email_received"]
    assert reply.detail["classification"]["by"] == "rule"
    assert reply.detail["classification"]["category"] == "unsubscribe"
    words = reply.detail["text"].lower()
    assert any(w in words for w in ("remove me", "unsubscribe", "stop")), words
    assert story.items[-1].journal is not None and "→ now do not contact" in story.items[-1].title


def test_journal_entries_read_as_event_then_new_state_in_words(campaign: Campaign) -> None:
    stories = [timeline.story(campaign.services.store, pid) for pid in (campaign.replied, campaign.edited)]
    titles = [i.title for story in stories if story for i in story.items if i.journal is not None]
    assert "Email accepted by the provider → now sent" in titles
    assert "Draft sent for the operator's review → now awaiting review" in titles
    assert "Reply received → now replied" in titles
    assert "Draft edited by the operator" in titles
    assert not any("sent → sent" in t or "_" in t.split("→")[-1] for t in titles)
    # the skill results a draft or a context pack came from are told by that artifact, not twice
    assert not [t for t in titles if "draft-first-touch" in t or "context-pack" in t]


def test_an_edited_draft_shows_both_versions_and_what_the_edit_changed(campaign: Campaign) -> None:
    story = timeline.story(campaign.services.store, campaign.edited)
    assert story is not None
    email = next(i for i in story.items if i.kind == "email_sent")
    assert email.detail["subject"] == EDITED_SUBJECT and email.detail["text"].startswith(EDITED_BODY)
    first, second = [i for i in story.items if i.kind == "draft"]
    assert first.detail["version"] == 1 and first.detail["diff"] == []
    assert first.actor is not None and first.actor.startswith("skill:draft-first-touch@")
    assert second.detail["edited_from"] == first.detail["artifact_id"] and second.actor == "operator:ana"
    diff = second.detail["diff"]
    assert f"-Subject: {first.detail['subject']}" in diff and f"+Subject: {EDITED_SUBJECT}" in diff
    assert "+Best regards," not in diff  # unchanged lines are context, not changes
    assert any(line.startswith("+Hi, I read about your audit-trail rollout") for line in diff)
    pack = next(i for i in story.items if i.kind == "context_pack")
    assert pack.detail["connection_note"] and pack.detail["latest"] is True


def test_an_erased_person_leaves_a_tombstone_and_the_story_still_reads(
    campaign: Campaign, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = campaign.services
    store = services.store
    pid = campaign.replied
    prospect = store.prospects.get(pid)
    assert prospect is not None and prospect.contact_email
    reply_text = "Thanks for reaching out - this is timely for us."
    erase(
        store,
        prospect.contact_email,
        reason="data principal request",
        now=store.now(),
        response_days=services.settings.privacy.rights_response_days,
        pages=None,  # the demo reads its sample corpus: no page was fetched
    )
    story = timeline.story(store, pid)
    assert story is not None and story.erased_at is not None
    assert (
        story.items[-1].kind == "tombstone" and story.items[-1].detail["reason"] == "data principal request"
    )
    email = next(i for i in story.items if i.kind == "email_sent")
    assert email.detail["tombstoned"] and email.detail["text"] is None and "erased" in email.title
    reply = next(i for i in story.items if i.kind == "email_received")
    assert reply.detail["tombstoned"] and "erased" in reply.title
    assert all(i.detail.get("tombstoned") for i in story.items if i.kind in ("draft", "context_pack"))
    dumped = json.dumps(story.as_json())
    assert reply_text not in dumped and "Why you are getting this" not in dumped
    assert "Reply received → now replied" in [i.title for i in story.items]  # decisions stay
    timeline_text.as_text(story)  # no failure on any tombstoned part

    monkeypatch.setenv("GTM_OPERATOR_PASSWORD", PASSWORD)
    with TestClient(create_app(load_settings(), services=services)) as client:
        assert client.post("/login", data={"password": PASSWORD}).status_code in (200, 303)
        page = client.get(f"/prospects/{pid}")
    assert page.status_code == 200
    assert 'id="tombstone-note"' in page.text and "The reply's text was erased." in page.text
    assert str(escape(reply_text)) not in page.text


def test_the_prospect_page_renders_the_story(campaign: Campaign, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GTM_OPERATOR_PASSWORD", PASSWORD)
    with TestClient(create_app(load_settings(), services=campaign.services)) as client:
        assert client.post("/login", data={"password": PASSWORD}).status_code in (200, 303)
        html = client.get(f"/prospects/{campaign.replied}").text
        edited = client.get(f"/prospects/{campaign.edited}").text
    assert (
        html.index('id="touch-1"') < html.index('id="inbound-') < html.index("Reply received → now replied")
    )
    assert '<details class="tl-quoted">' in html and 'class="tl-text reply-text"' in html
    assert 'data-header="List-Unsubscribe"' in html and 'id="context-pack"' in html
    assert 'class="tl-add"' in edited and 'class="tl-del"' in edited
    assert 'tr class="tl-item tl-journal journal-entry" data-kind="draft_edited"' in edited
    for page in (html, edited):
        assert "style=" not in page.split('id="timeline"')[1]  # the CSP allows no inline style


def _reply(date: str, body: str) -> str:
    return (
        "Message-Id: <r1@sunridge-bh.example>\nDate: " + date + "\nFrom: someone@elsewhere.example\n"
        "Subject: Re: hello\nContent-Type: text/plain; charset=utf-8\n\n" + body + "\n"
    )


def test_each_message_is_placed_when_it_was_written_and_says_when_it_was_processed(
    services: Services,
) -> None:
    pid, *_ = run_all(services)
    store = services.store
    received = dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)
    early, _ = store.inbox.add_event(
        event_key="svix:early",
        event_type="email.received",
        payload={"type": "email.received"},
        prospect_id=pid,
        touch_id=None,
        provider_email_id="rcv_early",
        raw_message=_reply("Wed, 25 Nov 2026 09:30:00 +0000", "Could you send pricing?\n\n> our note"),
        at=received,
    )
    store.inbox.finish_event(
        early,
        "processed",
        {"category": "question", "decided_by": "rule:test-question", "confidence": None},
        at=received + dt.timedelta(hours=3),
    )
    store.inbox.add_event(
        event_key="svix:future",
        event_type="email.received",
        payload={"type": "email.received"},
        prospect_id=pid,
        touch_id=None,
        provider_email_id="rcv_future",
        raw_message=_reply("Fri, 1 Jan 2100 00:00:00 +0000", "A date far ahead."),
        at=received + dt.timedelta(hours=1),
    )
    story = timeline.story(store, pid)
    assert story is not None
    first, second = [i for i in story.items if i.kind == "email_received"]
    assert first.at == dt.datetime(2026, 11, 25, 9, 30, tzinfo=dt.UTC)  # written, before it reached us
    assert first.processed_later and first.processed_at == received + dt.timedelta(hours=3)
    assert first.detail["received_at"] == received and first.detail["text"] == "Could you send pricing?"
    assert first.detail["classification"]["by"] == "rule" and first.detail["from_contact"] is False
    assert second.at == received + dt.timedelta(hours=1)  # a sender's date after arrival is not believed
    assert not second.detail.get("classification") and second.detail["status"] == "new"
    assert [i.at for i in story.items] == sorted(i.at for i in story.items)
    text = timeline_text.as_text(story)
    assert "2026-11-25 09:30:00 UTC (processed 2026-11-25 15:00:00 UTC)  Reply received: question" in text

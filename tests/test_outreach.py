"""The outreach loop through the real resend SDK and real HTTP: the twin, the receiver, the ledger."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
import resend

from gtm_pipeline.app import receiver_app
from gtm_pipeline.domain.clock import SystemClock
from gtm_pipeline.domain.ids import email_hash
from gtm_pipeline.domain.states import State
from gtm_pipeline.outreach.local_server import serving
from gtm_pipeline.outreach.policy import SendContext, check, health_halt
from gtm_pipeline.outreach.processing import InboxProcessor
from gtm_pipeline.outreach.resend_client import ResendClient
from gtm_pipeline.outreach.sender import run_sending, schedule, send_pending
from gtm_pipeline.outreach.settings import SendingSettings, sending_settings
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.rehearsal import rehearse
from gtm_pipeline.store.ledger import OutreachLedger
from gtm_pipeline.twins.resend_twin import REPLIES, ResendTwin, sign
from tests.conftest import sending_on
from tests.helpers import run_all

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
MONDAY_10 = dt.datetime(2026, 11, 23, 10, tzinfo=dt.UTC)


@pytest.fixture
def approved(services: Services) -> Services:
    """The demo pipeline, every draft approved by the operator."""
    run_all(services)
    for item in services.store.reviews.pending():
        if item.kind == "draft":
            services.store.reviews.decide(item.id, approve=True, actor="operator:test", reason="ok")
    sending_on(services)
    return services


@pytest.fixture
def twin() -> Iterator[ResendTwin]:
    with ResendTwin() as running:
        saved = resend.api_key
        resend.api_key = running.api_key
        yield running
        resend.api_key = saved


def _settings(services: Services, **changes: Any) -> SendingSettings:
    return replace(sending_settings(services.settings), **changes)


def _only_one(services: Services) -> str:
    """Keep one approved prospect and return it: the others are parked by the operator."""
    from gtm_pipeline.domain.states import Event

    keep, *others = services.store.prospects.find(states=[State.APPROVED])
    for p in others:
        services.store.prospects.apply_event(
            p.id, Event.DO_NOT_CONTACT_REQUESTED, actor="test", rationale="park"
        )
    return keep.id


# ---------------------------------------------------------------- sending


def test_a_crash_between_send_and_journal_never_sends_twice(
    approved: Services, twin: ResendTwin, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, settings = approved.store, _settings(approved)
    pid = _only_one(approved)
    client = ResendClient(api_url=twin.url)
    ledger = store.ledger
    schedule(store, ledger, settings, MONDAY_10)

    def crash(*args: object, **kwargs: object) -> None:
        raise SystemExit("killed after the provider accepted")

    monkeypatch.setattr(OutreachLedger, "mark_sent", crash)
    with pytest.raises(SystemExit):
        send_pending(store, ledger, settings, client, MONDAY_10)
    monkeypatch.undo()
    assert store.prospects.get(pid).state is State.SCHEDULED  # type: ignore[union-attr]
    reports = send_pending(store, ledger, settings, client, MONDAY_10 + dt.timedelta(minutes=5))
    assert [r.outcome for r in reports] == ["sent"]
    address = store.prospects.get(pid).contact_email  # type: ignore[union-attr]
    assert len(twin.sent_to(str(address))) == 1
    assert store.prospects.get(pid).state is State.SENT  # type: ignore[union-attr]
    assert len([e for e in store.journal.entries(pid) if e.payload.get("event") == "sent"]) == 1


def test_lost_answers_and_rate_limits_are_retried_with_the_same_key(
    approved: Services, twin: ResendTwin
) -> None:
    store, settings = approved.store, _settings(approved)
    pid = _only_one(approved)
    twin.settings.script("accept_then_fail", "rate_limit", "server_error")
    reports = run_sending(store, settings, ResendClient(api_url=twin.url), MONDAY_10)
    assert [r.outcome for r in reports] == ["scheduled", "sent"]
    assert len(twin.emails) == 1  # accepted once; the retries were answered from the idempotency record
    touch = store.ledger.touches(pid)[0]
    assert touch.provider_email_id in twin.emails
    sent = twin.emails[str(touch.provider_email_id)]
    assert sent["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert sent["headers"]["Message-ID"] == touch.message_id
    assert "Why you are getting this" in sent["text"] and "<img" not in sent["html"]
    assert {t["name"]: t["value"] for t in sent["tags"]}["prospect_id"] == pid


def test_the_same_key_with_another_payload_is_refused_by_the_provider(twin: ResendTwin) -> None:
    client = ResendClient(api_url=twin.url)
    params = {"from": "a@mail.example", "to": ["b@c.example"], "subject": "s", "text": "one"}
    first = client.send(params, "gtm-touch/p_x/1")
    assert client.send(params, "gtm-touch/p_x/1") == first
    with pytest.raises(resend.exceptions.ResendError) as refused:
        client.send({**params, "text": "two"}, "gtm-touch/p_x/1")
    assert str(refused.value.code) == "409"
    assert len(twin.emails) == 1


def test_a_suppressed_address_is_refused_at_the_last_gate(approved: Services, twin: ResendTwin) -> None:
    store, settings = approved.store, _settings(approved)
    pid = _only_one(approved)
    ledger = store.ledger
    schedule(store, ledger, settings, MONDAY_10)
    address = str(store.prospects.get(pid).contact_email)  # type: ignore[union-attr]
    store.privacy.suppress(email_hash(address), kind="email", reason="complaint")
    reports = send_pending(store, ledger, settings, ResendClient(api_url=twin.url), MONDAY_10)
    assert [(r.outcome, r.rule) for r in reports] == [("refused", "policy:suppression")]
    assert twin.emails == {}
    assert store.prospects.get(pid).state is State.DO_NOT_CONTACT  # type: ignore[union-attr]


def test_policy_windows_caps_spacing_and_halts() -> None:
    settings = SendingSettings(unsubscribe_secret=b"k")
    base = SendContext(
        now=MONDAY_10,
        recipient_timezone="Asia/Kolkata",
        blocked_artifact=False,
        domain_halted=None,
        pending_inbound=0,
        last_touch_at=None,
        mailbox_sent_today=0,
        domain_sent_today=0,
        mailbox_cap_today=5,
        suppressed=None,
    )
    # 10:00 UTC is 15:30 in Kolkata: inside the window; 16:00 UTC is 21:30 there: wait for 09:00 IST.
    assert check(base, settings).outcome == "send"
    late = check(replace(base, now=MONDAY_10 + dt.timedelta(hours=6)), settings)
    assert late.rule == "policy:send-window" and late.not_before == dt.datetime(
        2026, 11, 24, 3, 30, tzinfo=dt.UTC
    )
    saturday = check(replace(base, now=dt.datetime(2026, 11, 28, 6, tzinfo=dt.UTC)), settings)
    assert saturday.not_before == dt.datetime(2026, 11, 30, 3, 30, tzinfo=dt.UTC)
    assert check(replace(base, mailbox_sent_today=5), settings).rule == "policy:mailbox-cap"
    assert check(replace(base, domain_sent_today=90), settings).rule == "policy:domain-cap"
    spaced = check(replace(base, last_touch_at=MONDAY_10 - dt.timedelta(hours=10)), settings)
    assert spaced.rule == "policy:spacing"
    assert check(replace(base, pending_inbound=1), settings).rule == "policy:unprocessed-inbound"
    assert check(replace(base, suppressed="complaint"), settings).outcome == "refuse"
    assert check(replace(base, blocked_artifact=True), settings).rule == "policy:output-policy"
    assert settings.warmup_cap(None, MONDAY_10) == 5
    assert settings.warmup_cap(MONDAY_10 - dt.timedelta(days=4), MONDAY_10) == 17
    assert settings.warmup_cap(MONDAY_10 - dt.timedelta(days=40), MONDAY_10) == 30
    assert health_halt(100, 2, 0, settings) is None
    assert health_halt(100, 3, 0, settings) is not None  # 3 % > 2 %
    assert health_halt(100, 0, 1, settings) is not None  # 1 % > 0.05 %
    assert health_halt(5, 1, 0, settings) is None  # too few sends to judge a bounce rate


# ---------------------------------------------------------------- the receiver


def _wall_seconds() -> int:
    """Svix timestamps are checked against the wall clock by the SDK, so webhooks carry the real time."""
    return int(SystemClock().now().timestamp())


def _post(
    base: str,
    event: dict[str, Any],
    *,
    msg_id: str = "msg_1",
    secret: str = SECRET,
    timestamp: int | None = None,
    body: str | None = None,
) -> httpx.Response:
    raw = body if body is not None else json.dumps(event)
    ts = _wall_seconds() if timestamp is None else timestamp
    headers = {
        "svix-id": msg_id,
        "svix-timestamp": str(ts),
        "svix-signature": sign(secret, msg_id, ts, raw),
        "content-type": "application/json",
    }
    return httpx.post(f"{base}/webhooks/resend", content=raw, headers=headers, timeout=10)


def test_bad_webhooks_get_a_4xx_and_store_nothing(services: Services) -> None:
    app = receiver_app(services.store, _settings(services), SECRET, None)
    event = {"type": "email.delivered", "created_at": "2026-11-24T10:00:00Z", "data": {"email_id": "em_1"}}
    with serving(app) as base:
        assert _post(base, event, secret="whsec_" + base64.b64encode(b"x" * 32).decode()).status_code == 400
        assert _post(base, event, timestamp=_wall_seconds() - 600).status_code == 400  # stale
        assert _post(base, event, timestamp=_wall_seconds() + 600).status_code == 400  # from the future
        assert _post(base, event, body="{not json").status_code == 400
        assert _post(base, event, body=json.dumps({"hello": "world"})).status_code == 422
        assert _post(base, event, body=json.dumps({"type": "x", "data": "a" * 300_000})).status_code == 413
        unsigned = httpx.post(f"{base}/webhooks/resend", content=json.dumps(event), timeout=10)
        assert unsigned.status_code == 400
    assert services.store.inbox.outcomes() == []


def test_a_webhook_delivered_three_times_changes_state_once(approved: Services, twin: ResendTwin) -> None:
    store, settings = approved.store, _settings(approved)
    pid = _only_one(approved)
    run_sending(store, settings, ResendClient(api_url=twin.url), MONDAY_10)
    touch = store.ledger.touches(pid)[0]
    event = {
        "type": "email.delivered",
        "created_at": "2026-11-23T10:01:00Z",
        "data": {"email_id": touch.provider_email_id, "tags": {"touch_id": touch.touch_id}},
    }
    with serving(receiver_app(store, settings, SECRET, None)) as base:
        answers = [_post(base, event, msg_id="msg_same").json() for _ in range(3)]
    assert [a["stored"] for a in answers] == [True, False, False]
    InboxProcessor(store).process(now=MONDAY_10 + dt.timedelta(minutes=2))
    InboxProcessor(store).process(now=MONDAY_10 + dt.timedelta(minutes=3))
    delivered = [e for e in store.journal.entries(pid) if e.payload.get("event") == "delivered"]
    assert len(delivered) == 1 and store.prospects.get(pid).state is State.AWAITING_REPLY  # type: ignore[union-attr]


def test_an_unsubscribe_reply_stops_the_next_scheduled_follow_up(
    approved: Services, twin: ResendTwin
) -> None:
    store, settings = approved.store, _settings(approved, min_spacing_hours=0)
    pid = _only_one(approved)
    client = ResendClient(api_url=twin.url)
    address = str(store.prospects.get(pid).contact_email)  # type: ignore[union-attr]
    run_sending(store, settings, client, MONDAY_10)
    # The follow-up is approved and sits in the outbox, waiting for its send window.
    from gtm_pipeline.domain.states import Event

    draft = store.ledger.touches(pid)[0].artifact_id
    for event in (Event.DELIVERED, Event.NO_REPLY_TIMEOUT, Event.DRAFT_AUTO_APPROVED):
        decision = store.prospects.apply_event(
            pid, event, actor="test", rationale="sequence", details={"draft_artifact": draft}
        )
        assert decision.allowed
    schedule(store, store.ledger, settings, MONDAY_10 + dt.timedelta(days=4))
    assert store.prospects.get(pid).state is State.SCHEDULED  # type: ignore[union-attr]
    twin.behaviours[address] = "unsubscribe"
    first = store.ledger.touches(pid)[0]
    inbound = twin._inbound(
        twin.emails[str(first.provider_email_id)], address, "Please remove me.", auto=False
    )
    with serving(receiver_app(store, settings, SECRET, client.received)) as base:
        assert _post(base, inbound, msg_id="msg_reply").json()["suppressed"] == "reply_unsubscribe"
    # Suppressed before the receiver answered: the follow-up can no longer go, processed or not.
    reports = send_pending(store, store.ledger, settings, client, MONDAY_10 + dt.timedelta(days=4))
    assert [r.outcome for r in reports] in (["deferred"], ["refused"])
    InboxProcessor(store, approved.catalog, approved.runner, fetch=client.received).process()
    later = send_pending(store, store.ledger, settings, client, MONDAY_10 + dt.timedelta(days=5))
    assert [r.outcome for r in later] in ([], ["cancelled"])
    assert len(twin.sent_to(address)) == 1
    assert store.prospects.get(pid).state is State.DO_NOT_CONTACT  # type: ignore[union-attr]


def test_one_click_unsubscribe_acts_on_post_never_on_get(approved: Services, twin: ResendTwin) -> None:
    store, settings = approved.store, _settings(approved)
    pid = _only_one(approved)
    run_sending(store, settings, ResendClient(api_url=twin.url), MONDAY_10)
    touch = store.ledger.touches(pid)[0]
    header = touch.payload["headers"]["List-Unsubscribe"]
    path = header.split("<", 1)[1].split(">", 1)[0].split("/unsubscribe/", 1)[1]
    assert "@" not in path
    with serving(receiver_app(store, settings, SECRET, None)) as base:
        assert httpx.get(f"{base}/unsubscribe/{path}", timeout=10).status_code == 200
        assert store.privacy.suppression_reason(touch.to_hash) is None
        assert (
            httpx.post(f"{base}/unsubscribe/{path}x", data={"List-Unsubscribe": "One-Click"}).status_code
            == 404
        )
        posted = httpx.post(f"{base}/unsubscribe/{path}", data={"List-Unsubscribe": "One-Click"}, timeout=10)
        assert posted.status_code == 200
    assert store.privacy.suppression_reason(touch.to_hash) == "unsubscribe"
    InboxProcessor(store).process()
    assert store.prospects.get(pid).state is State.DO_NOT_CONTACT  # type: ignore[union-attr]


# ---------------------------------------------------------------- a whole campaign


def test_a_rehearsed_campaign_ends_with_every_prospect_in_the_right_state(approved: Services) -> None:
    report = rehearse(approved, start=MONDAY_10, duplicates=3, reorder=True)
    expected = {
        "silent": "awaiting_reply",
        "interested": "replied",
        "question": "replied",
        "not-now": "not_now",
        "not-a-fit": "not_a_fit",
        "unsubscribe": "do_not_contact",
        "referral": "replied",
        "ooo": "awaiting_reply",
        "bounce": "unreachable",
        "soft-bounce": "awaiting_reply",
        "complain": "do_not_contact",
    }
    assert report.behaviours
    for pid, behaviour in report.behaviours.items():
        assert report.states[pid] == expected[behaviour], (pid, behaviour)
    assert report.as_json()["max_sends_per_touch"] == 1
    assert report.days >= 2  # the warm-up ramp spread the first touches over days
    store = approved.store
    suppressed = {s["identity"] for s in store.privacy.suppressions()}
    for pid, behaviour in report.behaviours.items():
        prospect = store.prospects.get(pid)
        assert prospect is not None and prospect.contact_email
        is_suppressed = email_hash(prospect.contact_email) in suppressed
        assert is_suppressed is (behaviour in ("unsubscribe", "bounce", "complain")), behaviour
    not_now = next(p for p, b in report.behaviours.items() if b == "not-now")
    revisit = next(e for e in store.journal.entries(not_now) if e.payload.get("event") == "not_now_reply")
    assert revisit.payload["revisit_on"] == "2027-07-01"  # "circle back in Q3", said in November 2026
    assert revisit.payload["revisit_when"] == ["hiring"]  # "once we have hired": a hiring signal reopens it
    ooo = next(p for p, b in report.behaviours.items() if b == "ooo")
    paused = next(e for e in store.journal.entries(ooo) if e.payload.get("event") == "out_of_office")
    (touch,) = store.ledger.touches(ooo)
    assert touch.sent_at is not None and MONDAY_10 <= touch.sent_at < MONDAY_10 + dt.timedelta(days=10)
    back = touch.sent_at.date() + dt.timedelta(days=10)  # what the twin's auto-reply says, that simulated day
    assert paused.payload["resume_on"] == back.isoformat()
    assert paused.created_at == touch.sent_at  # every record of a simulated day carries that day
    replied = [o for o in store.inbox.outcomes() if o["event_type"] == "email.received"]
    assert all(o["status"] == "processed" for o in replied)


def test_a_follow_up_is_drafted_by_the_same_skill_reviewed_and_threaded(
    approved: Services, twin: ResendTwin
) -> None:
    from gtm_pipeline.pipeline.draft import draft_first_touch
    from gtm_pipeline.pipeline.timekeeping import apply, plan, sequence_policy

    store, settings = approved.store, _settings(approved)
    pid = _only_one(approved)
    client = ResendClient(api_url=twin.url)
    run_sending(store, settings, client, MONDAY_10)
    from gtm_pipeline.domain.states import Event

    store.prospects.apply_event(pid, Event.DELIVERED, actor="test", rationale="delivered", now=MONDAY_10)
    later = MONDAY_10 + dt.timedelta(days=4, hours=1)
    apply(store, plan(store, sequence_policy(approved.catalog), later, 0), later, pages=approved.pages)
    assert store.prospects.get(pid).state is State.FOLLOW_UP_DUE  # type: ignore[union-attr]
    draft_first_touch(approved, pid)
    assert store.prospects.get(pid).state is State.AWAITING_REVIEW  # type: ignore[union-attr]
    (item,) = [i for i in store.reviews.pending() if i.prospect_id == pid]
    first = store.ledger.touches(pid)[0]
    assert item.artifact_id != first.artifact_id  # a new draft, not the first touch again
    store.reviews.decide(item.id, approve=True, actor="operator:test", reason="ok")
    reports = run_sending(store, settings, client, later)
    assert [r.outcome for r in reports] == ["scheduled", "sent"]
    second = store.ledger.touches(pid)[1]
    assert second.touch_number == 2
    assert second.payload["headers"]["In-Reply-To"] == first.message_id
    assert second.payload["subject"] == "Re: " + first.payload["subject"]
    assert "Why you are getting this" not in second.payload["text"]  # the notice goes with the first touch
    # A reply that lost the plus-address still threads to the prospect by In-Reply-To.
    address = str(store.prospects.get(pid).contact_email)  # type: ignore[union-attr]
    reply = twin._inbound(twin.emails[str(second.provider_email_id)], address, "Happy to talk.", auto=False)
    reply["data"]["to"] = ["replies@inbound.northwind-advisory.example"]
    from gtm_pipeline.outreach.ingest import ingest

    assert ingest(store, "svix:msg_thread", reply, client.received).prospect_id == pid  # by In-Reply-To
    InboxProcessor(store, approved.catalog, approved.runner, fetch=client.received).process(now=later)
    assert store.prospects.get(pid).state is State.REPLIED  # type: ignore[union-attr]
    assert len(twin.sent_to(address)) == 2


def test_a_reply_stored_without_its_body_is_threaded_when_processed(
    approved: Services, twin: ResendTwin
) -> None:
    """The receiver could not fetch the body (provider down): nothing is lost, processing threads it later."""
    from gtm_pipeline.outreach.ingest import ingest

    store, settings = approved.store, _settings(approved)
    pid = _only_one(approved)
    client = ResendClient(api_url=twin.url)
    run_sending(store, settings, client, MONDAY_10)
    touch = store.ledger.touches(pid)[0]
    address = str(store.prospects.get(pid).contact_email)  # type: ignore[union-attr]
    reply = twin._inbound(
        twin.emails[str(touch.provider_email_id)], address, REPLIES["not-a-fit"], auto=False
    )
    reply["data"]["to"] = ["replies@inbound.northwind-advisory.example"]

    def down(email_id: str) -> dict[str, Any]:
        raise ConnectionError("receiving API unavailable")

    stored = ingest(store, "svix:msg_late", reply, down)
    assert stored.new and stored.prospect_id is None
    outcomes = InboxProcessor(store, approved.catalog, approved.runner, fetch=client.received).process()
    assert [o.prospect_id for o in outcomes if o.event_id == stored.event_id] == [pid]
    assert store.prospects.get(pid).state is State.NOT_A_FIT  # type: ignore[union-attr]


def test_the_console_charts_count_sends_replies_and_positive_replies(approved: Services) -> None:
    from gtm_pipeline.console import charts, queries

    report = rehearse(approved, start=MONDAY_10, duplicates=1, reorder=False)
    weeks = queries.weekly_rates(approved.store)
    totals = {k: sum(w[k] for w in weeks) for k in ("sent", "replies", "positive")}
    behaviours = list(report.behaviours.values())
    human = ("interested", "question", "referral", "not-now", "not-a-fit", "unsubscribe")
    assert totals["sent"] == len(behaviours)
    # bounces, out-of-office and silence are never replies; a stop reply is one, but not a positive one
    assert totals["replies"] == sum(b in human for b in behaviours)
    assert totals["positive"] == sum(b in ("interested", "question", "referral") for b in behaviours)
    svg = charts.rates_svg(weeks)
    assert svg.startswith("<svg") and svg.count("<polyline") == 2
    assert svg.count("<circle") == 2 * len(weeks)  # one marker per week and rate
    (stages,) = queries.funnel(approved.store).values()
    assert dict(stages)["sent"] == len(behaviours) and dict(stages)["replied"] >= totals["positive"]


def test_an_erasure_asked_for_in_a_reply_is_due_within_the_published_period(
    approved: Services, twin: ResendTwin
) -> None:
    store, settings = approved.store, _settings(approved)
    pid = _only_one(approved)
    client = ResendClient(api_url=twin.url)
    address = str(store.prospects.get(pid).contact_email)  # type: ignore[union-attr]
    run_sending(store, settings, client, MONDAY_10)
    (touch,) = store.ledger.touches(pid)
    inbound = twin._inbound(
        twin.emails[str(touch.provider_email_id)], address, "I exercise my right to erasure.", auto=False
    )
    with serving(receiver_app(store, settings, SECRET, client.received)) as base:
        assert _post(base, inbound, msg_id="msg_erase").status_code == 200
    at = MONDAY_10 + dt.timedelta(hours=2)
    InboxProcessor(store, approved.catalog, approved.runner, fetch=client.received, response_days=45).process(
        now=at
    )
    (request,) = store.privacy.rights_requests()
    assert request["kind"] == "erasure" and request["prospect_id"] == pid
    assert request["due_at"] == at + dt.timedelta(days=45)  # the configured period, not a fixed 30

"""Two and eight OS processes at once on one GTM_HOME (SQLite), against the Resend twin over loopback.

What a real deployment hits first: a schedule tick overlapping a manual ``gtm send``, two daemons,
two ``gtm inbox process``, processes starting together on a fresh home. Each test starts its
processes (spawned, so nothing is shared but the files), lets them get ready, releases them at
once, and then counts what the twin accepted and what the store journaled.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import resend

from gtm_pipeline.config import load_settings
from gtm_pipeline.domain.clock import FixedClock
from gtm_pipeline.domain.states import Event, State
from gtm_pipeline.outreach.resend_client import ResendClient
from gtm_pipeline.outreach.sender import run_sending, schedule, send_pending
from gtm_pipeline.outreach.settings import SendingSettings, sending_settings
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.store import Store
from gtm_pipeline.store.claims import CLAIM_LEASE
from gtm_pipeline.store.ledger import SENDING, Touch
from gtm_pipeline.twins.resend_twin import ResendTwin
from tests.conftest import sending_on
from tests.helpers import run_all

MONDAY_10 = dt.datetime(2026, 11, 23, 10, tzinfo=dt.UTC)  # inside the sending window
# Caps out of the way: these tests count doubles, not the warm-up ramp.
NO_CAPS = {"mailbox_daily_cap": 1000, "domain_daily_cap": 1000, "warmup_start": 1000}
FALSE_ALARMS = ("send_failed", "send_uncertain", "send_cancelled", "transition_rejected")
ctx = multiprocessing.get_context("spawn")

Work = Callable[..., Any]


# ---------------------------------------------------------------- running processes at once


def _worker(work: Work, barrier: Any, results: Any, args: tuple[Any, ...]) -> None:
    """One process: get ready (imports, store, client), wait for the others, then work."""
    try:
        ready = work(*args)
        barrier.wait(timeout=180)
        results.put(("ok", ready()))
    except BaseException:  # reported to the test, which names it; the others are not kept waiting
        barrier.abort()
        results.put(("error", traceback.format_exc()))


def _at_once(count: int, work: Work, *args: Any) -> list[Any]:
    """Run ``work(*args)`` in ``count`` spawned processes released together; their results."""
    barrier, results = ctx.Barrier(count), ctx.Queue()
    workers = [ctx.Process(target=_worker, args=(work, barrier, results, args)) for _ in range(count)]
    for process in workers:
        process.start()
    answers = [results.get(timeout=300) for _ in workers]
    for process in workers:
        process.join(timeout=60)
        assert process.exitcode == 0
    errors = [detail for kind, detail in answers if kind == "error"]
    assert errors == [], "\n".join(errors)
    return [detail for _kind, detail in answers]


def _store(at: dt.datetime) -> Store:
    """The store of the GTM_HOME this process was started with, its clock at ``at``."""
    return Store.open(load_settings().paths.database_url, clock=FixedClock(at))


def _sending(settings: SendingSettings | None = None) -> SendingSettings:
    return replace(settings or sending_settings(load_settings()), **NO_CAPS)


def _send_pass(
    url: str, api_key: str, at: dt.datetime, caps: dict[str, int] | None = None
) -> Callable[[], list[tuple[str, str, str]]]:
    """``gtm send`` as its command runs it: schedule approved drafts, send what is due."""
    store, client = _store(at), ResendClient.connect(api_key, url)
    sending = replace(_sending(), **(caps or {}))

    def go() -> list[tuple[str, str, str]]:
        try:
            return [(r.touch_id, r.outcome, r.prospect_id) for r in run_sending(store, sending, client, at)]
        finally:
            store.close()

    return go


def _inbox_pass(at: dt.datetime) -> Callable[[], list[int]]:
    """``gtm inbox process`` as its command runs it (no skills needed for these events)."""
    from gtm_pipeline.outreach.processing import InboxProcessor

    store = _store(at)

    def go() -> list[int]:
        try:
            return [o.event_id for o in InboxProcessor(store).process(now=at)]
        finally:
            store.close()

    return go


def _rules_pass(at: dt.datetime) -> Callable[[], int]:
    """``gtm rules apply`` as its command runs it (the hourly schedule does the same)."""
    from gtm_pipeline.pipeline.timekeeping import apply, plan, sequence_policy
    from gtm_pipeline.skills.catalog import load_catalog

    settings = load_settings()
    store = _store(at)
    policy = sequence_policy(load_catalog(settings.paths.skills))

    def go() -> int:
        try:
            planned = plan(store, policy, at, settings.privacy.retention_days)
            return len(apply(store, planned, at, pages=None))
        finally:
            store.close()

    return go


def _unsubscribe_token() -> Callable[[], tuple[str, str]]:
    """What every process starting on a fresh home does first: sign an unsubscribe link."""

    def go() -> tuple[str, str]:
        sending = sending_settings(load_settings())
        return sending.unsubscribe_token("t_probe"), sending.unsubscribe_secret.decode()

    return go


# ---------------------------------------------------------------- fixtures


@pytest.fixture
def approved(services: Services) -> Iterator[list[str]]:
    """The demo pipeline with every draft approved and sending switched on; the ids approved.
    The fixture's own store is closed before any process starts."""
    run_all(services)
    for item in services.store.reviews.pending():
        if item.kind == "draft":
            services.store.reviews.decide(item.id, approve=True, actor="operator:test", reason="ok")
    sending_on(services)
    ids = [p.id for p in services.store.prospects.find(states=[State.APPROVED])]
    assert len(ids) >= 3
    services.close()
    yield ids


@pytest.fixture
def slow_twin(monkeypatch: pytest.MonkeyPatch) -> Iterator[ResendTwin]:
    """The twin, each email taking a moment to accept, so passes overlap on one key if they can."""
    with ResendTwin() as twin:
        accept = twin._accept
        monkeypatch.setattr(twin, "_accept", lambda params: (time.sleep(0.2), accept(params))[1])
        monkeypatch.setattr(resend, "api_key", resend.api_key)  # restored after the test
        yield twin


def _sent_once(twin: ResendTwin, approved: list[str]) -> Store:
    """Every approved prospect emailed exactly once, journaled sent once, nothing false; the store."""
    store = _store(MONDAY_10)
    touches = [touch for pid in approved for touch in store.ledger.touches(pid)]
    assert len(touches) == len(approved)  # one touch each: never a second one scheduled
    accepted = Counter(email["headers"]["Message-ID"] for email in twin.emails.values())
    assert accepted == Counter({touch.message_id: 1 for touch in touches})
    assert {touch.status for touch in touches} == {"sent"}
    for pid in approved:
        entries = store.journal.entries(pid)
        events = Counter(e.payload.get("event") for e in entries if e.kind == "transition")
        assert (events["send_scheduled"], events["sent"]) == (1, 1), pid
        assert [e.kind for e in entries if e.kind in FALSE_ALARMS] == [], pid
        assert store.prospects.get(pid).state is State.SENT  # type: ignore[union-attr]
    assert [e.kind for e in store.escalations.open() if e.kind.startswith("touch_")] == []
    return store


# ---------------------------------------------------------------- sending


@pytest.mark.parametrize("processes", [2, 8])
def test_send_passes_at_once_email_each_touch_once_and_journal_nothing_false(
    approved: list[str], slow_twin: ResendTwin, processes: int
) -> None:
    reports = _at_once(processes, _send_pass, slow_twin.url, slow_twin.api_key, MONDAY_10)
    outcomes = Counter(outcome for report in reports for _touch, outcome, _pid in report)
    assert set(outcomes) <= {"scheduled", "sent"}, outcomes
    # each prospect scheduled by one pass and sent by one pass: the others left it alone
    assert outcomes == Counter({"scheduled": len(approved), "sent": len(approved)})
    _sent_once(slow_twin, approved).close()


def test_eight_send_passes_at_once_never_overrun_the_days_cap(
    approved: list[str], slow_twin: ResendTwin
) -> None:
    """Each pass checks the warm-up cap after claiming its touch and counts the touches other passes
    hold, so passes sending at once cannot each see room for one more."""
    cap = {"warmup_start": 2, "mailbox_daily_cap": 2}
    reports = _at_once(8, _send_pass, slow_twin.url, slow_twin.api_key, MONDAY_10, cap)
    outcomes = Counter(outcome for report in reports for _touch, outcome, _pid in report)
    assert len(slow_twin.emails) <= 2 and outcomes["sent"] == len(slow_twin.emails)
    assert set(outcomes) <= {"scheduled", "sent", "deferred"}, outcomes
    store = _store(MONDAY_10)
    assert store.ledger.sent_since(MONDAY_10 - dt.timedelta(hours=1)) == len(slow_twin.emails)
    left = store.ledger.touches_with_status("pending")
    assert len(left) == len(approved) - len(slow_twin.emails)  # deferred, handed back for tomorrow
    store.close()


# ---------------------------------------------------------------- a pass that died, a 409 in flight


def _scheduled_touch(approved: list[str]) -> tuple[Store, Touch]:
    """Schedule every approved prospect (one pass) and return the store and the first touch."""
    store = _store(MONDAY_10)
    schedule(store, store.ledger, _sending(), MONDAY_10)
    (touch,) = store.ledger.touches(approved[0])
    return store, touch


def test_a_touch_left_claimed_by_a_dead_pass_is_taken_over_after_the_lease_and_never_resent(
    approved: list[str], slow_twin: ResendTwin
) -> None:
    store, touch = _scheduled_touch(approved)
    client = ResendClient.connect(slow_twin.api_key, slow_twin.url)
    # The dead pass: claimed the touch, counted its attempt, Resend accepted, then it was killed.
    assert store.ledger.claim_touch(touch.touch_id, "dead-pass", at=MONDAY_10) is not None
    assert store.ledger.record_attempt(touch.touch_id, "dead-pass")
    accepted = client.send(dict(touch.payload), touch.idempotency_key)
    sending = _sending()
    soon = MONDAY_10 + CLAIM_LEASE - dt.timedelta(minutes=1)
    assert touch.touch_id not in {
        r.touch_id for r in send_pending(store, store.ledger, sending, client, soon)
    }
    assert store.ledger.touch(touch.touch_id).status == "sending"  # type: ignore[union-attr]
    later = MONDAY_10 + CLAIM_LEASE + dt.timedelta(minutes=1)
    reports = {r.touch_id: r.outcome for r in send_pending(store, store.ledger, sending, client, later)}
    assert reports[touch.touch_id] == "sent"
    settled = store.ledger.touch(touch.touch_id)
    assert settled is not None and settled.status == "sent" and settled.provider_email_id == accepted
    assert len(slow_twin.sent_to(str(touch.payload["to"][0]))) == 1  # Resend replayed the first answer
    sent = [e for e in store.journal.entries(touch.prospect_id) if e.payload.get("event") == "sent"]
    assert len(sent) == 1
    # The dead pass, were it only slow, can no longer write anything about the touch.
    assert not store.ledger.set_status(
        touch.touch_id, "failed", "late", expected=(SENDING,), claimer="dead-pass"
    )
    assert not store.ledger.release_touch(touch.touch_id, "dead-pass")
    store.close()


def test_a_409_for_a_key_in_flight_is_a_wait_then_the_touch_is_sent_once_and_nothing_fails(
    approved: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another request with the touch's key is still inside Resend for longer than the client's
    bounded retries: the pass hands the touch back (``retry``), journals and escalates nothing, and
    the next pass gets the first request's answer."""
    monkeypatch.setattr(resend, "api_key", resend.api_key)  # restored after the test
    with ResendTwin() as twin:
        accept, entered, release = twin._accept, threading.Event(), threading.Event()

        def held(params: dict[str, Any]) -> dict[str, Any]:
            if not entered.is_set():  # the first request (the other one) stays inside Resend
                entered.set()
                assert release.wait(30)
            return accept(params)

        monkeypatch.setattr(twin, "_accept", held)
        store, touch = _scheduled_touch(approved)
        client = ResendClient.connect(twin.api_key, twin.url)
        other = threading.Thread(target=client.send, args=(dict(touch.payload), touch.idempotency_key))
        other.start()
        assert entered.wait(10)
        impatient = replace(client, max_attempts=2)
        first = {r.touch_id: r for r in send_pending(store, store.ledger, _sending(), impatient, MONDAY_10)}
        release.set()
        other.join(30)
        assert (first[touch.touch_id].outcome, first[touch.touch_id].rule) == ("retry", "provider:transient")
        assert "concurrent_idempotent_requests" in first[touch.touch_id].reason
        assert store.ledger.touch(touch.touch_id).status == "pending"  # type: ignore[union-attr]
        later = MONDAY_10 + dt.timedelta(minutes=15)
        second = {r.touch_id: r.outcome for r in send_pending(store, store.ledger, _sending(), client, later)}
        assert second[touch.touch_id] == "sent" and len(twin.emails) == len(approved)
        assert len(twin.sent_to(str(touch.payload["to"][0]))) == 1
        kinds = [e.kind for e in store.journal.entries(touch.prospect_id)]
        assert [k for k in kinds if k in FALSE_ALARMS] == []
        assert [e.kind for e in store.escalations.open() if e.kind.startswith("touch_")] == []
        store.close()


def test_status_writes_are_compare_and_set(approved: list[str]) -> None:
    """A sent touch never becomes failed, a delivered one never anything else, and Resend's
    ``email.failed`` leaves a touch a send pass holds to that pass."""
    from gtm_pipeline.outreach.processing import InboxProcessor

    store, touch = _scheduled_touch(approved)
    ledger, inbox = store.ledger, store.inbox
    assert ledger.claim_touch(touch.touch_id, "pass-a", at=MONDAY_10) is not None
    assert not ledger.set_status(touch.touch_id, "failed", "x", expected=(SENDING,), claimer="pass-b")
    assert not ledger.set_status(touch.touch_id, "failed", "x", expected=("pending", "uncertain"))
    assert ledger.mark_sent(touch, "em_1", actor="test", rationale="accepted", at=MONDAY_10) is not None
    assert ledger.mark_sent(touch, "em_1", actor="test", rationale="again", at=MONDAY_10) is None  # once
    for expected in [(SENDING,), ("pending", "sending", "sent", "uncertain")]:
        assert not ledger.set_status(touch.touch_id, "failed", "late", expected=expected)
    ledger.mark_outcome(touch.touch_id, "delivered_at", MONDAY_10)
    for number, kind in enumerate(("email.delivered", "email.failed")):
        inbox.add_event(
            event_key=f"evt_{number}",
            event_type=kind,
            payload={"type": kind, "data": {"email_id": "em_1"}},
            prospect_id=touch.prospect_id,
            touch_id=touch.touch_id,
            provider_email_id="em_1",
        )
    assert len(InboxProcessor(store).process(now=MONDAY_10 + dt.timedelta(hours=1))) == 2
    assert ledger.touch(touch.touch_id).status == "sent"  # type: ignore[union-attr]
    (pending, *_rest) = [t for pid in approved[1:] for t in ledger.touches(pid)]
    ledger.mark_outcome(pending.touch_id, "delivered_at", MONDAY_10)  # delivered, the answer lost
    assert not ledger.set_status(pending.touch_id, "failed", "late", expected=("pending",))
    store.close()


def test_an_event_left_claimed_by_a_dead_pass_is_taken_over_after_the_lease_and_journaled_once(
    approved: list[str], slow_twin: ResendTwin
) -> None:
    from gtm_pipeline.outreach.processing import InboxProcessor

    events = _sent_and_stored_events(slow_twin, approved)
    event_id, pid = next(iter(events.items()))
    store = _store(MONDAY_10)
    # The dead pass: claimed the event, applied its transition (journaled), then was killed.
    claimed = store.inbox.claim_event(event_id, "dead-pass", at=MONDAY_10)
    assert claimed is not None and not claimed.resumed
    event = Event.DELIVERED if claimed.row.event_type == "email.delivered" else Event.UNSUBSCRIBED
    store.prospects.apply_event(
        pid, event, actor="step:inbound@1", rationale="dead pass", details={"inbox_event": event_id}
    )
    soon = MONDAY_10 + CLAIM_LEASE - dt.timedelta(minutes=1)
    assert event_id not in {o.event_id for o in InboxProcessor(store).process(now=soon)}
    later = MONDAY_10 + CLAIM_LEASE + dt.timedelta(minutes=1)
    (taken_over,) = [o for o in InboxProcessor(store).process(now=later) if o.event_id == event_id]
    assert taken_over.result.to == store.prospects.get(pid).state.value  # type: ignore[union-attr]
    about = [e for e in store.journal.entries(pid) if e.payload.get("inbox_event") == event_id]
    assert len(about) == 1  # the dead pass' transition, not a second one
    assert store.inbox.pending_events() == []
    store.close()


# ---------------------------------------------------------------- inbox processing


def _sent_and_stored_events(twin: ResendTwin, approved: list[str]) -> dict[int, str]:
    """Send every touch once (one pass), then store one event per prospect: half delivered, half a
    one-click unsubscribe. Returns {event id: prospect id}."""
    _send_pass(twin.url, twin.api_key, MONDAY_10)()
    store = _store(MONDAY_10)
    events = {}
    for number, pid in enumerate(approved):
        (touch,) = store.ledger.touches(pid)
        kind = "email.delivered" if number % 2 else "unsubscribe.one_click"
        event_id, new = store.inbox.add_event(
            event_key=f"evt_{pid}",
            event_type=kind,
            payload={"type": kind, "data": {"email_id": touch.provider_email_id}},
            prospect_id=pid,
            touch_id=touch.touch_id,
            provider_email_id=touch.provider_email_id,
        )
        assert new
        events[event_id] = pid
    store.close()
    return events


@pytest.mark.parametrize("processes", [2, 8])
def test_inbox_passes_at_once_journal_each_event_once(
    approved: list[str], slow_twin: ResendTwin, processes: int
) -> None:
    events = _sent_and_stored_events(slow_twin, approved)
    reports = _at_once(processes, _inbox_pass, MONDAY_10 + dt.timedelta(hours=1))
    processed = Counter(event_id for report in reports for event_id in report)
    assert processed == Counter(dict.fromkeys(events, 1))  # each event reported by exactly one pass
    store = _store(MONDAY_10)
    for event_id, pid in events.items():
        about = [e for e in store.journal.entries(pid) if e.payload.get("inbox_event") == event_id]
        assert [e.kind for e in about] == ["transition"], (event_id, pid)
    assert {row["status"] for row in store.inbox.outcomes()} == {"processed"}
    states = Counter(store.prospects.get(pid).state for pid in approved)  # type: ignore[union-attr]
    assert states == Counter(
        {State.DO_NOT_CONTACT: (len(approved) + 1) // 2, State.AWAITING_REPLY: len(approved) // 2}
    )
    store.close()


# ---------------------------------------------------------------- time rules


@pytest.mark.parametrize("processes", [2, 8])
def test_time_rule_passes_at_once_apply_each_rule_once(
    approved: list[str], slow_twin: ResendTwin, processes: int
) -> None:
    _send_pass(slow_twin.url, slow_twin.api_key, MONDAY_10)()
    store = _store(MONDAY_10)
    for pid in approved:
        store.prospects.apply_event(pid, Event.DELIVERED, actor="test", rationale="delivered", now=MONDAY_10)
    store.close()
    later = MONDAY_10 + dt.timedelta(days=5)  # past the follow-up delay (4 days), before unresponsive
    applied = _at_once(processes, _rules_pass, later)
    assert sum(applied) == len(approved)  # one pass applied each rule; the others found it done
    store = _store(later)
    for pid in approved:
        entries = store.journal.entries(pid)
        ruled = [(e.kind, e.payload.get("event")) for e in entries if e.actor == "rule:follow-up@1"]
        assert ruled == [("transition", "no_reply_timeout")], pid
        assert store.prospects.get(pid).state is State.FOLLOW_UP_DUE  # type: ignore[union-attr]
    store.close()


# ---------------------------------------------------------------- a fresh home


def test_eight_processes_on_a_fresh_home_share_one_unsubscribe_key(gtm_home: Path) -> None:
    answers = _at_once(8, _unsubscribe_token)
    assert len(set(answers)) == 1  # one key: a link signed by any process verifies in every other
    token, secret = answers[0]
    key = gtm_home / "secrets" / "unsubscribe.key"
    assert key.read_text().strip() == secret
    assert key.stat().st_mode & 0o777 == 0o600
    assert sending_settings(load_settings()).touch_for_token(token) == "t_probe"
    assert [p.name for p in key.parent.iterdir()] == ["unsubscribe.key"]  # no staging file left behind

"""Bookings from Cal.com and Calendly: each signature scheme's bad input refused with nothing stored,
a delivery stored once, the transitions a booking drives, and a booking that matches nobody escalated."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI

from gtm_pipeline.domain.clock import ManualClock
from gtm_pipeline.domain.ids import email_hash
from gtm_pipeline.domain.states import Event, State
from gtm_pipeline.meetings.receiver import create_booking_receiver
from gtm_pipeline.outreach.local_server import serving
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.store import Store
from gtm_pipeline.store.records import NewProspect
from gtm_pipeline.twins.booking import Booking, BookingSender
from tests.conftest import TEST_START

CALCOM_SECRET = "calcom-test-secret"
CALENDLY_KEY = "calendly-test-signing-key"
# The path a prospect takes to each state the tests start from (through the real table).
TO_AWAITING = [
    Event.RESEARCH_STARTED,
    Event.QUALIFIED,
    Event.DRAFT_AUTO_APPROVED,
    Event.SEND_SCHEDULED,
    Event.SENT,
    Event.DELIVERED,
]
TO_REPLIED = [*TO_AWAITING, Event.REPLY_RECEIVED]


@dataclass
class Kit:
    store: Store
    clock: ManualClock
    send: BookingSender

    def prospect(self, n: int, path: list[Event]) -> tuple[str, Booking]:
        """A prospect walked to a state, and a booking made with its addressee's address."""
        pid, email = f"p_{n:020x}", f"person{n}@company{n}.example"
        self.store.prospects.add(
            NewProspect(pid, "h", f"company{n}.example", f"Company {n}", "Ada Person", email),
            actor="test",
            payload={},
        )
        for event in path:
            assert self.store.prospects.apply_event(pid, event, actor="test", rationale="setup").allowed
        return pid, Booking(email.upper(), "Ada Person", self.clock.now() + dt.timedelta(days=2))

    def state(self, pid: str) -> State:
        prospect = self.store.prospects.get(pid)
        assert prospect is not None
        return prospect.state

    def inbox(self) -> list[dict[str, object]]:
        return self.store.inbox.outcomes()


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    clock = ManualClock(TEST_START)
    store = Store.open(f"sqlite:///{tmp_path / 'store.sqlite'}", clock=clock)
    app = FastAPI()
    app.include_router(
        create_booking_receiver(store, calcom_secret=CALCOM_SECRET, calendly_signing_key=CALENDLY_KEY)
    )
    try:
        with serving(app) as base:
            yield Kit(store, clock, BookingSender(base, CALCOM_SECRET, CALENDLY_KEY, clock=clock))
    finally:
        store.close()


def _refused(kit: Kit, pid: str, response_status: int, expected: int, state: State) -> None:
    assert response_status == expected
    assert kit.inbox() == []  # nothing stored
    assert kit.state(pid) is state  # nothing moved


# ---------------------------------------------------------------- Cal.com's X-Cal-Signature-256


def test_calcom_bad_input_is_refused_with_a_clear_error_and_nothing_stored(kit: Kit) -> None:
    pid, booking = kit.prospect(1, TO_REPLIED)
    bad = kit.send.calcom("booked", booking, fault="bad_signature")
    assert bad.json()["error"] == "X-Cal-Signature-256 does not match the body"
    _refused(kit, pid, bad.status_code, 401, State.REPLIED)
    missing = kit.send.calcom("booked", booking, fault="no_signature")
    assert missing.json()["error"] == "missing X-Cal-Signature-256"
    _refused(kit, pid, missing.status_code, 401, State.REPLIED)
    malformed = kit.send.calcom("booked", booking, raw=b'{"triggerEvent": "BOOKING_CREATED", ')
    assert malformed.json()["error"].startswith("body is not JSON")
    _refused(kit, pid, malformed.status_code, 400, State.REPLIED)
    deep = kit.send.calcom("booked", booking, raw=b"[" * 5000)
    _refused(kit, pid, deep.status_code, 400, State.REPLIED)
    unknown = json.dumps({"triggerEvent": "FORM_SUBMITTED", "payload": {"attendees": []}}).encode()
    strange = kit.send.calcom("booked", booking, raw=unknown)
    assert "FORM_SUBMITTED" in strange.json()["error"]
    _refused(kit, pid, strange.status_code, 422, State.REPLIED)
    nobody = json.dumps({"triggerEvent": "BOOKING_CREATED", "payload": {"attendees": []}}).encode()
    _refused(kit, pid, kit.send.calcom("booked", booking, raw=nobody).status_code, 422, State.REPLIED)
    ping = kit.send.calcom(
        "booked", booking, raw=json.dumps({"triggerEvent": "PING", "payload": {}}).encode()
    )
    assert ping.status_code == 200 and ping.json() == {"stored": False, "ping": True}
    assert kit.inbox() == []


def test_a_calcom_delivery_repeated_is_stored_and_applied_once(kit: Kit) -> None:
    pid, booking = kit.prospect(2, TO_REPLIED)
    first = kit.send.calcom("booked", booking)
    again = kit.send.calcom(
        "booked", booking
    )  # Cal.com signs no timestamp: a replay verifies, and is a no-op
    assert first.status_code == again.status_code == 200
    assert first.json()["stored"] is True and first.json()["to"] == "meeting_booked"
    assert again.json() == {**first.json(), "stored": False}
    assert len(kit.inbox()) == 1
    moves = [e for e in kit.store.journal.entries(pid) if e.payload.get("event") == "meeting_booked"]
    assert len(moves) == 1


def test_no_secret_configured_refuses_every_booking(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 's.sqlite'}", clock=ManualClock(TEST_START))
    app = FastAPI()
    app.include_router(create_booking_receiver(store, calcom_secret=None, calendly_signing_key=None))
    booking = Booking("a@b.example", "A", TEST_START)
    with serving(app) as base:
        send = BookingSender(base, "x", "y", clock=ManualClock(TEST_START))
        assert send.calcom("booked", booking).status_code == 503
        assert send.calendly("booked", booking).json()["error"].startswith("GTM_CALENDLY_WEBHOOK_SIGNING_KEY")
    assert store.inbox.outcomes() == []
    store.close()


# ---------------------------------------------------------------- Calendly's t=,v1= signature


def test_calendly_bad_input_is_refused_with_a_clear_error_and_nothing_stored(kit: Kit) -> None:
    pid, booking = kit.prospect(3, TO_AWAITING)
    bad = kit.send.calendly("booked", booking, fault="bad_signature")
    assert bad.json()["error"] == "Calendly-Webhook-Signature does not match the body"
    _refused(kit, pid, bad.status_code, 401, State.AWAITING_REPLY)
    missing = kit.send.calendly("booked", booking, fault="no_signature")
    assert missing.json()["error"] == "missing Calendly-Webhook-Signature"
    _refused(kit, pid, missing.status_code, 401, State.AWAITING_REPLY)
    stale = kit.send.calendly("booked", booking, fault="stale")
    assert stale.json()["error"] == "Calendly-Webhook-Signature timestamp is 600 s off (tolerance 180 s)"
    _refused(kit, pid, stale.status_code, 401, State.AWAITING_REPLY)
    malformed = kit.send.calendly("booked", booking, raw=b"event=invitee.created")
    _refused(kit, pid, malformed.status_code, 400, State.AWAITING_REPLY)
    unknown = json.dumps({"event": "routing_form_submission.created", "payload": {}}).encode()
    strange = kit.send.calendly("booked", booking, raw=unknown)
    assert "routing_form_submission.created" in strange.json()["error"]
    _refused(kit, pid, strange.status_code, 422, State.AWAITING_REPLY)


def test_a_calendly_timestamp_is_held_against_the_injected_clock(kit: Kit) -> None:
    """Signed at the clock's now it passes; the same bytes sent 181 s later (a replay) are refused."""
    _pid, booking = kit.prospect(4, TO_AWAITING)
    good = kit.send.calendly("booked", booking)
    assert good.status_code == 200 and good.json()["to"] == "meeting_booked"
    repeat = kit.send.calendly("booked", booking)  # Calendly's retry: same invitee URI, stored once
    assert repeat.status_code == 200 and repeat.json()["stored"] is False
    assert len(kit.inbox()) == 1
    kit.clock.set(kit.clock.now() + dt.timedelta(seconds=100))
    assert kit.send.replay_last().json()["stored"] is False  # inside the window: stored once already
    kit.clock.set(kit.clock.now() + dt.timedelta(seconds=81))
    replayed = kit.send.replay_last()  # the captured request, 181 s after it was signed
    assert replayed.status_code == 401 and "181 s off" in replayed.json()["error"]
    kit.send.stale_seconds = 181
    assert kit.send.calendly("booked", booking, fault="stale").status_code == 401
    kit.send.stale_seconds = 179
    assert kit.send.calendly("booked", booking, fault="stale").status_code == 200


# ---------------------------------------------------------------- transitions


def test_booked_cancelled_rebooked_and_held_through_the_table_with_the_event_as_evidence(kit: Kit) -> None:
    pid, booking = kit.prospect(5, TO_AWAITING)  # books from the first email, never having replied
    steps = [("booked", "meeting_booked"), ("cancelled", "replied")]
    for kind, state in steps:
        assert kit.send.calcom(kind, booking).json()["to"] == state  # type: ignore[arg-type]
    again = Booking(booking.email, booking.name, booking.starts_at + dt.timedelta(days=1))
    assert kit.send.calcom("booked", again).json()["to"] == "meeting_booked"
    assert kit.send.calcom("rescheduled", again).json()["to"] == "meeting_booked"
    kit.clock.set(again.ends_at + dt.timedelta(minutes=5))
    assert kit.send.calcom("held", again).json()["to"] == "meeting_held"
    assert kit.state(pid) is State.MEETING_HELD
    entries = [e for e in kit.store.journal.entries(pid) if e.actor == "step:meetings@1"]
    assert [e.payload["event"] for e in entries] == [
        "meeting_booked",
        "meeting_cancelled",
        "meeting_booked",
        "meeting_rescheduled",
        "meeting_held",
    ]
    first = entries[0].payload
    assert first["provider"] == "calcom" and first["provider_event"] == "BOOKING_CREATED"
    assert first["invitee_hash"] == email_hash(booking.email) and first["booking"] == booking.ref
    assert first["from_state"] == "awaiting_reply"
    for entry in entries:  # the invitee only as a hash: never the address or the name
        text = json.dumps(entry.payload).lower()
        assert booking.email.lower() not in text and "ada person" not in text
    assert entries[-1].created_at == kit.clock.now()  # journaled at the injected clock's time


def test_a_no_show_moves_forward_and_a_cancellation_that_does_not_fit_is_journaled_rejected(kit: Kit) -> None:
    pid, booking = kit.prospect(6, TO_REPLIED)
    assert kit.send.calcom("booked", booking).json()["to"] == "meeting_booked"
    assert kit.send.calcom("held", booking).json()["to"] == "meeting_held"
    # The host marks the no-show after Cal.com already said the meeting ended: no_show wins.
    assert kit.send.calcom("no_show", booking).json()["to"] == "no_show"
    late = kit.send.calcom("cancelled", booking)
    assert late.status_code == 200 and late.json()["to"] == "rejected:no_show"
    rejected = [e for e in kit.store.journal.entries(pid) if e.kind == "transition_rejected"]
    assert [e.payload["event"] for e in rejected] == ["meeting_cancelled"]
    assert kit.state(pid) is State.NO_SHOW
    # A no-show mark undone is recorded, never applied.
    undone = kit.send.calcom("no_show", booking, no_show=False).json()
    assert undone["to"] is None and undone["status"] == "processed"
    assert kit.state(pid) is State.NO_SHOW


def test_calendly_reschedule_keeps_the_meeting_and_a_cancellation_goes_back_to_replied(kit: Kit) -> None:
    pid, booking = kit.prospect(7, TO_REPLIED)
    assert kit.send.calendly("booked", booking).json()["to"] == "meeting_booked"
    assert kit.send.calendly("rescheduled", booking).json()["to"] == "meeting_booked"
    moved = Booking(booking.email, booking.name, booking.starts_at + dt.timedelta(days=3))
    assert kit.send.calendly("booked", moved).json()["to"] == "meeting_booked"  # the new invitee
    assert kit.send.calendly("cancelled", moved).json()["to"] == "replied"
    events = [e.payload["event"] for e in kit.store.journal.entries(pid) if e.actor == "step:meetings@1"]
    assert events == ["meeting_booked", "meeting_rescheduled", "meeting_booked", "meeting_cancelled"]
    assert kit.send.calendly("no_show", moved).json()["to"] == "rejected:replied"


def test_a_colleague_booking_matches_the_prospect_through_its_contacts(kit: Kit) -> None:
    from gtm_pipeline.store.contacts import NewContact

    pid, _ = kit.prospect(8, TO_REPLIED)
    colleague = NewContact("Bo Colleague", "CTO", "bo@company8.example", [], "page", "https://x", "h")
    with kit.store.writing() as c:
        kit.store.contacts.add_in(c, pid, colleague, now=kit.clock.now())
    answer = kit.send.calcom("booked", Booking("bo@company8.example", "Bo", kit.clock.now())).json()
    assert answer["prospect_id"] == pid and answer["to"] == "meeting_booked"


def test_a_booking_that_matches_nobody_is_stored_and_escalated_never_dropped(kit: Kit) -> None:
    kit.prospect(9, TO_REPLIED)
    stranger = Booking("stranger@elsewhere.example", "Sam Stranger", kit.clock.now())
    answer = kit.send.calendly("booked", stranger)
    assert answer.status_code == 200
    body = answer.json()
    assert body["stored"] is True and body["status"] == "unmatched" and body["prospect_id"] is None
    (row,) = kit.inbox()
    assert row["event_type"] == "meeting.booked" and row["status"] == "unmatched"
    (escalation,) = kit.store.escalations.open()
    assert escalation.kind == "unmatched_event" and escalation.key == f"inbox:{body['event_id']}"
    assert "matched no prospect" in escalation.detail and "stranger" not in escalation.detail.lower()
    assert kit.send.calendly("booked", stranger).json()["stored"] is False
    assert len(kit.store.escalations.open()) == 1  # the repeat raises nothing more


def test_gtm_serve_answers_both_schedulers_with_the_secrets_from_settings(
    app_services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app ``gtm serve`` runs mounts the booking routes beside Resend's, keyed from settings."""
    from gtm_pipeline.app import create_app
    from gtm_pipeline.config import load_settings

    monkeypatch.setenv("GTM_CALCOM_WEBHOOK_SECRET", CALCOM_SECRET)
    monkeypatch.setenv("GTM_CALENDLY_WEBHOOK_SIGNING_KEY", CALENDLY_KEY)
    settings = load_settings()
    clock = app_services.clock
    assert isinstance(clock, ManualClock)
    with serving(create_app(settings, services=app_services, console=False)) as base:
        send = BookingSender(base, CALCOM_SECRET, CALENDLY_KEY, clock=clock)
        booking = Booking("nobody@unknown.example", "No One", clock.now() + dt.timedelta(days=1))
        assert send.calcom("booked", booking).status_code < 300
        assert send.calendly("booked", booking).status_code < 300
        assert send.calcom("booked", booking, fault="bad_signature").status_code == 401
    stored = [o for o in app_services.store.inbox.outcomes() if str(o["event_type"]) == "meeting.booked"]
    assert len(stored) == 2  # both unmatched here: stored and escalated, never dropped

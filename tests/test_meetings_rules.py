"""The pure parts of meetings: the two signature schemes, the booking settings, the transition
table's meeting edges, and the output policy's one admitted link."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from gtm_pipeline.config.meetings import MeetingSettings
from gtm_pipeline.domain.contracts import DraftFinding
from gtm_pipeline.domain.states import Event, State, transition
from gtm_pipeline.meetings.events import BookingEventError, read_calcom, read_calendly
from gtm_pipeline.meetings.signatures import (
    SignatureError,
    calcom_signature,
    calendly_signature,
    verify_calcom,
    verify_calendly,
)
from gtm_pipeline.pipeline.draft import policy_violations
from gtm_pipeline.twins.booking import Booking, calcom_payload, calendly_payload

NOW = dt.datetime(2026, 11, 23, 10, tzinfo=dt.UTC)
BODY = b'{"triggerEvent":"BOOKING_CREATED"}'


def test_calcom_signatures_compare_the_exact_bytes() -> None:
    verify_calcom(BODY, calcom_signature(BODY, "s"), "s")
    verify_calcom(BODY, "sha256=" + calcom_signature(BODY, "s").upper(), "s")  # a prefix or hex case
    for header, why in [
        (calcom_signature(BODY + b" ", "s"), "does not match"),  # one byte more
        (calcom_signature(BODY, "t"), "does not match"),  # another secret
        ("é" * 64, "does not match"),  # not ASCII: never compared as text, never a 500
        ("a" * 700, "too long"),
        ("", "missing"),
    ]:
        with pytest.raises(SignatureError, match=why):
            verify_calcom(BODY, header, "s")


def test_calendly_signatures_hold_the_timestamp_and_accept_a_rotated_key() -> None:
    t = int(NOW.timestamp())
    good = calendly_signature(BODY, "k", t)
    assert verify_calendly(BODY, good, "k", now=NOW, tolerance_s=180) == t
    old = calendly_signature(BODY, "old", t).split(",")[1]
    verify_calendly(BODY, f"{good},{old}", "k", now=NOW, tolerance_s=180)  # two v1 during a rotation
    cases = [
        (calendly_signature(BODY, "k", t - 181), "181 s off"),
        (calendly_signature(BODY, "k", t + 200), "200 s off"),  # ahead of the clock too
        (calendly_signature(BODY, "x", t), "does not match"),
        (f"t={t}", "no v1"),
        (f"v1={'0' * 64}", "no t="),
        (f"t=abc,v1={'0' * 64}", "no t="),
        (None, "missing"),
    ]
    for header, why in cases:
        with pytest.raises(SignatureError, match=why):
            verify_calendly(BODY, header, "k", now=NOW, tolerance_s=180)
    # The timestamp is signed: moving it forward to pass the window breaks the signature.
    forged = good.replace(f"t={t}", f"t={t + 1}")
    with pytest.raises(SignatureError, match="does not match"):
        verify_calendly(BODY, forged, "k", now=NOW, tolerance_s=180)


def test_events_read_each_scheduler_into_one_kind_with_the_address_hashed() -> None:
    booking = Booking("Ana@Acme.example", "Ana", NOW)
    calcom = read_calcom(calcom_payload("held", booking, at=NOW), b"body")
    assert (calcom.kind, calcom.inbox_type, calcom.booking_ref) == ("held", "meeting.held", booking.ref)
    assert calcom.invitee_hash.startswith("e_") and "ana" not in str(calcom.evidence()).lower()
    cleared = read_calcom(calcom_payload("no_show", booking, at=NOW, no_show=False), b"b")
    assert cleared.kind == "no_show_cleared"
    moved = read_calendly(calendly_payload("rescheduled", booking, at=NOW))
    assert (moved.kind, moved.provider_type) == ("rescheduled", "invitee.canceled")
    created = read_calendly(calendly_payload("booked", booking, at=NOW))
    no_show = read_calendly(calendly_payload("no_show", booking, at=NOW))
    assert len({created.event_key, moved.event_key, no_show.event_key}) == 3
    with pytest.raises(BookingEventError, match="invitee's email"):
        read_calendly({"event": "invitee.created", "payload": {"uri": "u", "email": "no address"}})
    with pytest.raises(BookingEventError, match=r"payload\.uri"):
        read_calendly({"event": "invitee.created", "payload": {"email": "a@b.example"}})
    with pytest.raises(BookingEventError, match="not an object"):
        read_calcom({"triggerEvent": "BOOKING_CREATED", "payload": []}, b"")
    with pytest.raises(ValueError, match="no webhook"):
        calendly_payload("held", booking, at=NOW)


def test_meeting_edges_of_the_transition_table() -> None:
    def to(state: State, event: Event) -> str:
        decision = transition(state, event, NOW)
        return decision.to_state.value if decision.allowed else "rejected"

    for start in (State.SENT, State.AWAITING_REPLY, State.FOLLOW_UP_DUE, State.REPLIED, State.NO_SHOW):
        assert to(start, Event.MEETING_BOOKED) == "meeting_booked", start
    for never in (State.DISCOVERED, State.QUALIFIED, State.DO_NOT_CONTACT, State.WON, State.LOST):
        assert to(never, Event.MEETING_BOOKED) == "rejected", never
    assert to(State.MEETING_BOOKED, Event.MEETING_CANCELLED) == "replied"
    assert to(State.MEETING_HELD, Event.MEETING_CANCELLED) == "rejected"
    assert to(State.MEETING_BOOKED, Event.MEETING_HELD) == "meeting_held"
    assert to(State.REPLIED, Event.MEETING_HELD) == "rejected"
    assert to(State.MEETING_HELD, Event.MEETING_NO_SHOW) == "no_show"
    assert to(State.MEETING_HELD, Event.DEAL_WON) == "won"
    assert to(State.MEETING_HELD, Event.DEAL_LOST) == "lost"
    assert to(State.MEETING_HELD, Event.UNSUBSCRIBED) == "do_not_contact"


def test_the_booking_settings_accept_only_an_https_link_and_offer_it_with_a_provider() -> None:
    assert MeetingSettings(booking_url="https://cal.com/ana/").link is None  # no provider named
    settings = MeetingSettings(provider="calcom", booking_url="https://cal.com/ana/")
    assert settings.link == "https://cal.com/ana"
    for wrong in ("http://cal.com/ana", "https://cal.com/a na", "cal.com/ana"):
        with pytest.raises(ValidationError):
            MeetingSettings(provider="calcom", booking_url=wrong)
    with pytest.raises(ValidationError):
        MeetingSettings(provider="zoom")  # type: ignore[arg-type]


def _draft(body: str) -> DraftFinding:
    return DraftFinding(
        subject="A short question",
        body=body,
        opener_source_id="s1",
        call_to_action="book a time",
    )


def test_the_policy_admits_the_operators_booking_link_and_nothing_else_on_its_domain() -> None:
    link = "https://cal.com/ana/intro"
    domains = ["sender.example", "acme.example"]
    text = "Thanks for the reply, glad it is of interest. Pick a time that suits you: {}. Ana"
    assert policy_violations(_draft(text.format(link)), domains, link) == []
    assert policy_violations(_draft(text.format(link + "/")), domains, link) == []
    for other in (
        link + "-x",
        link + "/other",
        "https://cal.com/mallory",
        "https://cal.com.evil.example/ana/intro",
        link + ".evil/x",  # found in review: a dot that does not end the sentence continues the URL
    ):
        assert policy_violations(_draft(text.format(other)), domains, link), other
    assert policy_violations(_draft(text.format(link)), domains, None)  # no link configured: refused


def test_drafting_reads_the_link_from_the_meetings_section_only_when_one_is_set() -> None:
    from types import SimpleNamespace

    from gtm_pipeline.pipeline.draft import booking_link

    section = MeetingSettings(provider="calendly", booking_url="https://calendly.com/ana/intro")
    with_link = SimpleNamespace(settings=SimpleNamespace(meetings=section))
    assert booking_link(with_link) == "https://calendly.com/ana/intro"  # type: ignore[arg-type]
    assert booking_link(SimpleNamespace(settings=SimpleNamespace(meetings=MeetingSettings()))) is None  # type: ignore[arg-type]

"""Replies through the inbox processor (issue 18): a contact gone becomes ``unreachable`` with the
replacement journaled as a referral; a hostile reply is a complaint that suppresses and stops."""

from __future__ import annotations

import datetime as dt

import pytest

from gtm_pipeline.domain.ids import email_hash
from gtm_pipeline.domain.states import Event, State
from gtm_pipeline.outreach.mailparse import compose_raw
from gtm_pipeline.outreach.processing import InboxProcessor
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.store import NewProspect
from tests.conftest import HYPOTHESIS, TEST_START

PID = "p_" + "7" * 20
SENDER = "kim@carepoint.example"


@pytest.fixture
def awaiting(services: Services) -> Services:
    """One prospect whose first touch was sent and delivered: it awaits a reply."""
    store = services.store
    store.prospects.add(
        NewProspect(PID, HYPOTHESIS, "carepoint.example", "CarePoint", contact_email=SENDER),
        actor="test",
        payload={},
    )
    for event in (
        Event.RESEARCH_STARTED,
        Event.QUALIFIED,
        Event.DRAFT_READY_FOR_REVIEW,
        Event.DRAFT_APPROVED,
        Event.SEND_SCHEDULED,
        Event.SENT,
        Event.DELIVERED,
    ):
        assert store.prospects.apply_event(PID, event, actor="test", rationale="sequence").allowed
    return services


def _reply(services: Services, body: str, key: str, headers: dict[str, str] | None = None) -> str:
    at = TEST_START + dt.timedelta(hours=2)
    raw = compose_raw("Re: idea", body, at, headers=headers, from_addr=SENDER).decode()
    services.store.inbox.add_event(
        event_key=key,
        event_type="email.received",
        payload={"data": {}},
        prospect_id=PID,
        touch_id=None,
        provider_email_id=None,
        raw_message=raw,
        at=at,
    )
    (outcome,) = InboxProcessor(services.store, services.catalog, services.runner).process(now=at)
    return outcome.summary()


def _transition_details(services: Services) -> dict[str, object]:
    entry = next(e for e in reversed(services.store.journal.entries(PID)) if e.kind == "transition")
    return dict(entry.payload)


def test_a_contact_gone_moves_to_unreachable_and_keeps_the_replacement_as_a_referral(
    awaiting: Services,
) -> None:
    assert (
        _reply(awaiting, "Kim has left the company. Please contact jane@carepoint.example.", "gone")
        == "unreachable"
    )
    assert awaiting.store.prospects.get(PID).state is State.UNREACHABLE  # type: ignore[union-attr]
    details = _transition_details(awaiting)
    assert details["event"] == Event.CONTACT_GONE.value
    assert details["referral_to"] == "jane@carepoint.example"
    # The inbox row keeps the decision, never the address.
    (row,) = [o for o in awaiting.store.inbox.outcomes() if o["event_type"] == "email.received"]
    assert "jane@" not in str(row)


def test_a_no_longer_monitored_auto_reply_also_makes_the_contact_unreachable(awaiting: Services) -> None:
    body = "This mailbox is no longer monitored."
    assert _reply(awaiting, body, "auto-gone", {"Auto-Submitted": "auto-replied"}) == "unreachable"
    assert awaiting.store.prospects.get(PID).state is State.UNREACHABLE  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "body", ["Stop spamming me.", "f*** off", "Das ist Spam, ich melde Sie.", "Esto es spam."]
)
def test_a_hostile_reply_is_a_complaint_that_suppresses_and_stops(awaiting: Services, body: str) -> None:
    assert _reply(awaiting, body, "hostile") == "complaint"
    assert awaiting.store.prospects.get(PID).state is State.DO_NOT_CONTACT  # type: ignore[union-attr]
    assert _transition_details(awaiting)["event"] == Event.COMPLAINED.value
    assert awaiting.store.privacy.suppression_reason(email_hash(SENDER)) == "reply_complaint"


def test_a_negated_stop_is_a_reply_not_a_suppression(awaiting: Services) -> None:
    assert _reply(awaiting, "Don't take me off the list — I'm interested.", "negated") == "interested"
    assert awaiting.store.prospects.get(PID).state is State.REPLIED  # type: ignore[union-attr]
    assert awaiting.store.privacy.suppression_reason(email_hash(SENDER)) is None


def test_a_typed_absence_pauses_until_the_return_date(awaiting: Services) -> None:
    assert _reply(awaiting, "On leave, back in June.", "absent") == "out_of_office"
    assert awaiting.store.prospects.get(PID).state is State.AWAITING_REPLY  # type: ignore[union-attr]
    assert _transition_details(awaiting)["resume_on"] == "2027-06-01"

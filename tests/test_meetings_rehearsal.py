"""The rehearsed campaign goes on to its meetings: bookings over HTTP from the scheduler twins, a
cancellation and a held meeting, each delivered more than once and journaled once."""

from __future__ import annotations

import datetime as dt

from gtm_pipeline.domain.actors import REHEARSAL_OPERATOR
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.rehearsal import rehearse
from tests.helpers import run_all

MONDAY_10 = dt.datetime(2026, 11, 23, 10, tzinfo=dt.UTC)


def test_a_rehearsed_campaign_ends_with_meetings_a_cancellation_a_won_deal_and_the_crm_in_sync(
    services: Services,
) -> None:
    run_all(services)
    for item in services.store.reviews.pending():
        if item.kind == "draft":
            services.store.reviews.decide(item.id, approve=True, actor=REHEARSAL_OPERATOR, reason="test")
    report = rehearse(services, start=MONDAY_10, duplicates=2, reorder=False, meetings=True)
    meetings = report.as_json()["meetings"]
    assert sorted(meetings.values()) == ["calcom:booked,cancelled", "calcom:booked,held", "calendly:booked"]
    assert report.refused_deliveries == 0
    final = {meetings[pid]: report.states[pid] for pid in meetings}
    assert final == {
        "calcom:booked,held": "won",  # held, then its deal won in the CRM twin
        "calendly:booked": "meeting_booked",
        "calcom:booked,cancelled": "replied",  # booked from the first email, then cancelled
    }
    store = services.store
    booked_from_first_email = next(p for p, done in meetings.items() if done == "calcom:booked,cancelled")
    assert report.behaviours[booked_from_first_email] in ("silent", "ooo", "soft-bounce")
    rows = [o for o in store.inbox.outcomes() if str(o["event_type"]).startswith("meeting.")]
    assert len(rows) == 5  # two deliveries of each of five events, each stored once
    assert all(o["status"] == "processed" for o in rows)
    for pid, done in meetings.items():
        moves = [e for e in store.journal.entries(pid) if e.actor == "step:meetings@1"]
        assert [e.kind for e in moves][: len(done.split(","))] == ["transition"] * len(done.split(",")), pid
        assert all(MONDAY_10 < e.created_at < MONDAY_10 + dt.timedelta(days=30) for e in moves)
    # The CRM twin holds exactly the companies that answered positively or booked, and the held
    # meeting's deal, won there, came back as deal_won.
    positive = {"interested", "question", "referral"}
    expected = {
        store.prospects.get(pid).company_domain  # type: ignore[union-attr]
        for pid in report.states
        if pid in meetings or report.behaviours[pid] in positive
    }
    assert report.crm_domains == sorted(expected) and expected
    held = next(p for p, done in meetings.items() if done == "calcom:booked,held")
    assert report.won == [held] and store.prospects.get(held).state.value == "won"  # type: ignore[union-attr]
    won = [e for e in store.journal.entries(held) if e.payload.get("event") == "deal_won"]
    assert len(won) == 1 and won[0].payload.get("allowed", True)

"""The CRM: positive conversations pushed to HubSpot (official SDK, against the twin) once, never for
a suppressed or erased person; erasure deletes what was pushed; deal stages come back as outcomes;
429s are waited out and 5xx failures recorded and escalated."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest

from gtm_pipeline.config import load_settings
from gtm_pipeline.config.crm import CrmSettings
from gtm_pipeline.crm.hubspot import HubSpotSink
from gtm_pipeline.crm.sync import (
    ESCALATION_KIND,
    enqueue_triggered,
    erase_pass,
    poll_deals,
    push_pass,
    run_all,
)
from gtm_pipeline.domain.clock import ManualClock
from gtm_pipeline.domain.ids import email_hash, prospect_id
from gtm_pipeline.domain.states import Event, State
from gtm_pipeline.pipeline.privacy import erase, fulfil_erasure, record_request
from gtm_pipeline.store import NewProspect, Store
from gtm_pipeline.store.crm_pushes import CrmPushes
from gtm_pipeline.twins.hubspot import HubSpotTwin
from tests.conftest import TEST_START

CONSOLE = "http://127.0.0.1:8025"
REPLY_TEXT = "Yes, we are drowning in month-end reconciliations, call me Tuesday"


@pytest.fixture
def store() -> Iterator[Store]:
    opened = Store.open(load_settings().paths.database_url, clock=ManualClock(TEST_START))
    yield opened
    opened.close()


@pytest.fixture
def twin() -> Iterator[HubSpotTwin]:
    with HubSpotTwin() as running:
        yield running


def sink_for(twin: HubSpotTwin, store: Store, retries: int = 4) -> HubSpotSink:
    return HubSpotSink(
        token=twin.token, api_url=twin.url, clock=store.clock, rate_limit_retries=retries, timeout_s=5
    )


def crm(twin: HubSpotTwin, **overrides: object) -> CrmSettings:
    return CrmSettings(kind="hubspot", api_url=twin.url, **overrides)  # type: ignore[arg-type]


def prospect(store: Store, domain: str, *, email: str, reply: str | None, booked: bool = False) -> str:
    """A prospect walked through the table to a reply of category ``reply`` (and a booking)."""
    pid = prospect_id(domain)
    store.prospects.add(
        NewProspect(
            id=pid,
            hypothesis_slug="finance-ops",
            company_domain=domain,
            company_name=domain.split(".")[0].title(),
            contact_name="Asha Verma",
            contact_email=email,
            contact_role="CFO",
        ),
        actor="test",
        payload={},
    )
    for event in (
        Event.RESEARCH_STARTED,
        Event.QUALIFIED,
        Event.DRAFT_AUTO_APPROVED,
        Event.SEND_SCHEDULED,
        Event.SENT,
    ):
        assert store.prospects.apply_event(pid, event, actor="test", rationale="setup").allowed
    if reply is not None:
        details = {"category": reply, "decided_by": "rule"}
        assert store.prospects.apply_event(
            pid, Event.REPLY_RECEIVED, actor="test", rationale="reply", details=details
        ).allowed
    if booked:
        assert store.prospects.apply_event(
            pid, Event.MEETING_BOOKED, actor="test", rationale="cal.com"
        ).allowed
    return pid


def test_positive_reply_pushes_company_contact_and_note_once(store: Store, twin: HubSpotTwin) -> None:
    hot = prospect(store, "ledgerly.example", email="asha@ledgerly.example", reply="interested")
    cold = prospect(store, "quietco.example", email="ravi@quietco.example", reply="other")
    silent = prospect(store, "nowords.example", email="mia@nowords.example", reply=None)
    sink = sink_for(twin, store)

    report = push_pass(store, sink, crm(twin), console_url=CONSOLE)

    assert report.outcomes["pushed"] == 1 and report.prospects == [hot]
    assert twin.domains() == {"ledgerly.example"}
    assert twin.emails() == {"asha@ledgerly.example"}
    [note] = twin.notes()
    assert f"{CONSOLE}/prospects/{hot}" in note and "replied (interested)" in note
    assert REPLY_TEXT[:20] not in note
    [contact] = twin.live("contacts")
    assert contact["associations"]["companies"] == [twin.company_id("ledgerly.example")]
    push = CrmPushes(store).of(hot, "hubspot")
    assert (
        push is not None
        and push.status == "pushed"
        and push.company_created
        and push.trigger == "reply:interested"
    )
    assert CrmPushes(store).of(cold, "hubspot") is None and CrmPushes(store).of(silent, "hubspot") is None
    entry = [e for e in store.journal.entries(hot) if e.kind == "crm_pushed"]
    assert entry and entry[0].payload["company_id"] == push.company_id
    assert "asha" not in str(entry[0].payload)

    # Idempotent: another pass, and a booking after the reply, add nothing to the CRM.
    requests = twin.server.requests
    store.prospects.apply_event(hot, Event.MEETING_BOOKED, actor="test", rationale="cal.com")
    again = push_pass(store, sink, crm(twin), console_url=CONSOLE)
    assert again.outcomes["pushed"] == 0 and twin.server.requests == requests
    assert len(twin.live("companies")) == 1 and len(twin.live("contacts")) == 1 and len(twin.notes()) == 1


def test_existing_company_and_contact_are_matched_not_duplicated(store: Store, twin: HubSpotTwin) -> None:
    sink = sink_for(twin, store)
    before = sink.upsert_company(domain="ledgerly.example", name="Ledgerly (entered by sales)")
    assert before.created
    pid = prospect(store, "ledgerly.example", email="asha@ledgerly.example", reply="question")

    push_pass(store, sink, crm(twin), console_url=CONSOLE)

    assert [c["id"] for c in twin.live("companies")] == [before.id]
    push = CrmPushes(store).of(pid, "hubspot")
    assert push is not None and push.company_id == before.id and not push.company_created


def test_triggers_are_configurable(store: Store, twin: HubSpotTwin) -> None:
    replied = prospect(store, "ledgerly.example", email="asha@ledgerly.example", reply="interested")
    booked = prospect(store, "bookco.example", email="li@bookco.example", reply="question", booked=True)

    push_pass(store, sink_for(twin, store), crm(twin, triggers=["meeting_booked"]), console_url=CONSOLE)

    assert twin.domains() == {"bookco.example"}
    assert CrmPushes(store).of(replied, "hubspot") is None
    push = CrmPushes(store).of(booked, "hubspot")
    assert push is not None and push.trigger == "meeting_booked"


def test_suppressed_or_erased_person_is_never_pushed(store: Store, twin: HubSpotTwin) -> None:
    suppressed = prospect(store, "optout.example", email="no@optout.example", reply="interested")
    store.privacy.suppress(email_hash("no@optout.example"), kind="email", reason="unsubscribed")
    erased = prospect(store, "gone.example", email="gone@gone.example", reply="interested")
    erase(store, "gone@gone.example", reason="request", now=TEST_START, response_days=30, pages=None)

    report = push_pass(store, sink_for(twin, store), crm(twin), console_url=CONSOLE)

    assert report.outcomes["pushed"] == 0 and twin.domains() == set() and twin.server.requests == 0
    push = CrmPushes(store).of(suppressed, "hubspot")
    assert (
        push is not None
        and push.status == "withheld"
        and "suppressed (unsubscribed)" in (push.last_error or "")
    )
    assert CrmPushes(store).of(erased, "hubspot") is None  # erased: no longer a candidate at all


def test_queued_push_is_withheld_when_the_person_is_erased_first(store: Store, twin: HubSpotTwin) -> None:
    pid = prospect(store, "ledgerly.example", email="asha@ledgerly.example", reply="interested")
    twin.settings.script("server_error")  # the first push fails: the row waits, nothing created
    sink = sink_for(twin, store)
    push_pass(store, sink, crm(twin), console_url=CONSOLE)
    assert CrmPushes(store).of(pid, "hubspot").status == "failed"  # type: ignore[union-attr]

    report = erase(
        store, "asha@ledgerly.example", reason="request", now=TEST_START, response_days=30, pages=None
    )
    push_pass(store, sink, crm(twin), console_url=CONSOLE)

    assert report.counts["crm_deletions_due"] == 0
    assert CrmPushes(store).of(pid, "hubspot").status == "withheld"  # type: ignore[union-attr]
    assert twin.domains() == set()


def test_erasure_deletes_what_was_pushed_and_keeps_the_evidence(store: Store, twin: HubSpotTwin) -> None:
    pid = prospect(store, "ledgerly.example", email="asha@ledgerly.example", reply="interested")
    kept = prospect(store, "staysco.example", email="jo@staysco.example", reply="referral")
    sink = sink_for(twin, store)
    push_pass(store, sink, crm(twin), console_url=CONSOLE)
    assert twin.domains() == {"ledgerly.example", "staysco.example"}
    request_id = record_request(
        store, kind="erasure", email="Asha@Ledgerly.example", now=TEST_START, response_days=30
    )

    report = fulfil_erasure(store, request_id, now=TEST_START, reason="data principal's request", pages=None)
    assert report.counts["crm_deletions_due"] == 1
    assert CrmPushes(store).of(pid, "hubspot").status == "erase_due"  # type: ignore[union-attr]
    done = erase_pass(store, sink, crm(twin))

    assert done.outcomes["erased"] == 1
    assert twin.domains() == {"staysco.example"} and twin.emails() == {"jo@staysco.example"}
    assert len(twin.notes()) == 1
    push = CrmPushes(store).of(pid, "hubspot")
    assert push is not None and push.status == "erased" and push.erased_at is not None
    assert "contact" in (push.last_error or "") and "deleted" in (push.last_error or "")
    [evidence] = [e for e in store.journal.entries(pid) if e.kind == "crm_erased"]
    assert evidence.payload["deleted"] == {"note": "deleted", "contact": "deleted", "company": "deleted"}
    assert "asha" not in str(evidence.payload).lower() and "ledgerly" not in str(evidence.payload)
    assert CrmPushes(store).of(kept, "hubspot").status == "pushed"  # type: ignore[union-attr]
    # Run again: nothing more is deleted or requested.
    requests = twin.server.requests
    assert erase_pass(store, sink, crm(twin)).outcomes["erased"] == 0 and twin.server.requests == requests


def test_erasure_keeps_a_company_the_crm_had_before(store: Store, twin: HubSpotTwin) -> None:
    sink = sink_for(twin, store)
    sink.upsert_company(domain="ledgerly.example", name="Ledgerly")
    pid = prospect(store, "ledgerly.example", email="asha@ledgerly.example", reply="interested")
    push_pass(store, sink, crm(twin), console_url=CONSOLE)

    erase(store, pid, reason="account request", now=TEST_START, response_days=30, pages=None)
    erase_pass(store, sink, crm(twin))

    assert twin.domains() == {"ledgerly.example"} and twin.emails() == set() and twin.notes() == []
    push = CrmPushes(store).of(pid, "hubspot")
    assert push is not None and "kept (it was in the CRM before the pipeline)" in (push.last_error or "")


def test_failed_crm_delete_is_escalated_and_retried(store: Store, twin: HubSpotTwin) -> None:
    prospect(store, "ledgerly.example", email="asha@ledgerly.example", reply="interested")
    sink = sink_for(twin, store)
    push_pass(store, sink, crm(twin), console_url=CONSOLE)
    erase(store, "asha@ledgerly.example", reason="request", now=TEST_START, response_days=30, pages=None)
    twin.settings.script("unavailable")

    assert erase_pass(store, sink, crm(twin)).outcomes["erase_failed"] == 1
    [escalation] = [e for e in store.escalations.open() if e.kind == ESCALATION_KIND]
    assert "HTTP 503" in escalation.detail and "asha" not in escalation.detail.lower()
    assert erase_pass(store, sink, crm(twin)).outcomes["erased"] == 1
    assert twin.emails() == set()


def test_deal_stages_polled_into_the_journal_once(store: Store, twin: HubSpotTwin) -> None:
    won = prospect(store, "ledgerly.example", email="asha@ledgerly.example", reply="interested", booked=True)
    lost = prospect(store, "bookco.example", email="li@bookco.example", reply="question", booked=True)
    open_ = prospect(store, "openco.example", email="kim@openco.example", reply="interested", booked=True)
    sink = sink_for(twin, store)
    push_pass(store, sink, crm(twin), console_url=CONSOLE)
    won_deal = twin.add_deal("ledgerly.example")
    twin.add_deal("openco.example", stage="presentationscheduled")
    lost_deal = twin.add_deal("bookco.example", stage="closedlost")
    twin.set_stage(won_deal, "closedwon")

    report = poll_deals(store, sink, crm(twin))

    assert report.as_dict() == {"deal_won": 1, "deal_lost": 1}
    assert store.prospects.get(won).state is State.WON  # type: ignore[union-attr]
    assert store.prospects.get(lost).state is State.LOST  # type: ignore[union-attr]
    assert store.prospects.get(open_).state is State.MEETING_BOOKED  # type: ignore[union-attr]
    [entry] = [e for e in store.journal.entries(won) if e.payload.get("event") == "deal_won"]
    assert entry.kind == "transition" and entry.payload["deal_id"] == won_deal
    assert entry.payload["dealstage"] == "closedwon" and entry.actor == "system:crm:hubspot"
    assert [
        e.payload["deal_id"] for e in store.journal.entries(lost) if e.payload.get("event") == "deal_lost"
    ] == [lost_deal]
    # A second poll journals nothing new.
    counts = {pid: len(store.journal.entries(pid)) for pid in (won, lost, open_)}
    assert poll_deals(store, sink, crm(twin)).as_dict() == {}
    assert {pid: len(store.journal.entries(pid)) for pid in (won, lost, open_)} == counts


def test_stage_mapping_is_configurable(store: Store, twin: HubSpotTwin) -> None:
    pid = prospect(store, "ledgerly.example", email="asha@ledgerly.example", reply="interested", booked=True)
    sink = sink_for(twin, store)
    settings = crm(twin, won_stages=["contract_signed"])
    push_pass(store, sink, settings, console_url=CONSOLE)
    deal = twin.add_deal("ledgerly.example", stage="closedwon")
    assert poll_deals(store, sink, settings).as_dict() == {}  # closedwon means nothing here
    twin.set_stage(deal, "contract_signed")
    assert poll_deals(store, sink, settings).as_dict() == {"deal_won": 1}
    assert store.prospects.get(pid).state is State.WON  # type: ignore[union-attr]


def test_rate_limit_is_waited_out_by_the_sdk(store: Store, twin: HubSpotTwin) -> None:
    pid = prospect(store, "ledgerly.example", email="asha@ledgerly.example", reply="interested")
    twin.settings.script("rate_limit")  # the first request gets 429 with Retry-After: 1
    started = time.monotonic()

    report = push_pass(store, sink_for(twin, store), crm(twin), console_url=CONSOLE)

    waited = time.monotonic() - started
    assert report.outcomes["pushed"] == 1 and twin.server.rate_limited == 1
    assert waited >= 0.9, f"the SDK did not honour Retry-After (took {waited:.2f}s)"
    assert twin.domains() == {"ledgerly.example"}
    assert CrmPushes(store).of(pid, "hubspot").attempts == 1  # type: ignore[union-attr]


def test_server_errors_are_recorded_then_escalated(store: Store, twin: HubSpotTwin) -> None:
    pid = prospect(store, "ledgerly.example", email="asha@ledgerly.example", reply="interested")
    settings = crm(twin, max_attempts=2)
    sink = sink_for(twin, store)

    twin.settings.script("server_error")
    assert push_pass(store, sink, settings, console_url=CONSOLE).outcomes["failed"] == 1
    push = CrmPushes(store).of(pid, "hubspot")
    assert push is not None and push.status == "failed" and "HTTP 500" in (push.last_error or "")
    assert not [e for e in store.escalations.open() if e.kind == ESCALATION_KIND]

    twin.settings.script("ok", "ok", "server_error")  # company searched and created; the contact fails
    assert push_pass(store, sink, settings, console_url=CONSOLE).outcomes["gave_up"] == 1
    push = CrmPushes(store).of(pid, "hubspot")
    assert push is not None and push.status == "gave_up" and push.company_id is not None
    [escalation] = [e for e in store.escalations.open() if e.kind == ESCALATION_KIND]
    assert escalation.subject == pid and "HTTP 500" in escalation.detail and "asha" not in escalation.detail
    assert push_pass(store, sink, settings, console_url=CONSOLE).outcomes["pushed"] == 0  # given up stays


def test_wrong_token_is_a_recorded_failure(store: Store, twin: HubSpotTwin) -> None:
    pid = prospect(store, "ledgerly.example", email="asha@ledgerly.example", reply="interested")
    sink = HubSpotSink(token="pat-wrong", api_url=twin.url, clock=store.clock)
    push_pass(store, sink, crm(twin), console_url=CONSOLE)
    push = CrmPushes(store).of(pid, "hubspot")
    assert push is not None and push.status == "failed" and "HTTP 401" in (push.last_error or "")
    assert twin.domains() == set()


def test_run_all_with_unreachable_crm_escalates_the_poll(store: Store, twin: HubSpotTwin) -> None:
    prospect(store, "ledgerly.example", email="asha@ledgerly.example", reply="interested", booked=True)
    sink = sink_for(twin, store)
    run_all(store, sink, crm(twin), console_url=CONSOLE)  # pushes
    twin.settings.script("unavailable")
    counts = run_all(store, sink, crm(twin), console_url=CONSOLE)
    assert counts.get("poll_failed") == 1
    assert any("reading deal stages" in e.detail for e in store.escalations.open())


def test_times_come_from_the_injected_clock(store: Store, twin: HubSpotTwin) -> None:
    pid = prospect(store, "ledgerly.example", email="asha@ledgerly.example", reply="interested")
    assert isinstance(store.clock, ManualClock)
    store.clock.set(TEST_START + dt.timedelta(days=3))
    push_pass(store, sink_for(twin, store), crm(twin), console_url=CONSOLE)
    push = CrmPushes(store).of(pid, "hubspot")
    assert push is not None and push.pushed_at == TEST_START + dt.timedelta(days=3)


def test_a_push_is_claimed_by_one_pass_only(store: Store, twin: HubSpotTwin) -> None:
    pid = prospect(store, "ledgerly.example", email="asha@ledgerly.example", reply="interested")
    sink = sink_for(twin, store)
    push_pass(store, sink, crm(twin, max_per_pass=1), console_url=CONSOLE)  # queues and pushes it
    pushes = CrmPushes(store)
    other = prospect(store, "bookco.example", email="li@bookco.example", reply="question")

    assert enqueue_triggered(store, sink, crm(twin)) == 1
    row = pushes.of(other, "hubspot")
    assert row is not None
    first, second = pushes.claim(row.id, "pass-a"), pushes.claim(row.id, "pass-b")
    assert first is not None and first.claimed_by == "pass-a" and second is None
    # The other pass skips the claimed row: nothing is pushed twice.
    report = push_pass(store, sink, crm(twin), console_url=CONSOLE)
    assert report.outcomes["pushed"] == 0 and twin.domains() == {"ledgerly.example"}
    assert pushes.of(pid, "hubspot").status == "pushed"  # type: ignore[union-attr]


def test_an_erasure_during_a_push_still_reaches_what_it_created(store: Store, twin: HubSpotTwin) -> None:
    pid = prospect(store, "ledgerly.example", email="asha@ledgerly.example", reply="interested")
    sink = sink_for(twin, store)

    enqueue_triggered(store, sink, crm(twin))
    pushes = CrmPushes(store)
    row = pushes.of(pid, "hubspot")
    assert row is not None and pushes.claim(row.id, "pass-a") is not None
    company = sink.upsert_company(domain="ledgerly.example", name="Ledgerly")  # the pass is in flight
    contact = sink.upsert_contact(
        email="asha@ledgerly.example", name="Asha", role=None, company_id=company.id
    )

    erase(store, "asha@ledgerly.example", reason="request", now=TEST_START, response_days=30, pages=None)
    settled = pushes.mark_pushed(
        row.id,
        "pass-a",
        company_id=company.id,
        company_created=True,
        contact_id=contact.id,
        contact_created=True,
        note_id="n0",
    )

    assert not settled
    after = pushes.of(pid, "hubspot")
    assert after is not None and after.status == "erase_due" and after.contact_id == contact.id
    erase_pass(store, sink, crm(twin))
    assert twin.emails() == set() and twin.domains() == set()


def test_a_given_up_push_that_created_a_company_is_erased_too(store: Store, twin: HubSpotTwin) -> None:
    pid = prospect(store, "ledgerly.example", email="asha@ledgerly.example", reply="interested")
    sink = sink_for(twin, store)
    twin.settings.script("ok", "ok", "server_error")
    push_pass(store, sink, crm(twin, max_attempts=1), console_url=CONSOLE)
    assert CrmPushes(store).of(pid, "hubspot").status == "gave_up"  # type: ignore[union-attr]
    assert twin.domains() == {"ledgerly.example"}

    report = erase(store, pid, reason="account request", now=TEST_START, response_days=30, pages=None)
    erase_pass(store, sink, crm(twin))

    assert report.counts["crm_deletions_due"] == 1 and twin.domains() == set()


def test_a_deal_naming_our_contact_counts_even_under_another_company(store: Store, twin: HubSpotTwin) -> None:
    """Sales logged the deal under the parent company's record, linking our contact: it still counts,
    and only for that prospect."""
    pid = prospect(store, "ledgerly.example", email="asha@ledgerly.example", reply="interested", booked=True)
    other = prospect(store, "bookco.example", email="li@bookco.example", reply="question", booked=True)
    sink = sink_for(twin, store)
    push_pass(store, sink, crm(twin), console_url=CONSOLE)
    sink.upsert_company(domain="ledgerly-holdings.example", name="Ledgerly Holdings")

    twin.add_deal("ledgerly-holdings.example", stage="closedwon", contact_email="asha@ledgerly.example")
    assert poll_deals(store, sink, crm(twin)).as_dict() == {"deal_won": 1}

    assert store.prospects.get(pid).state is State.WON  # type: ignore[union-attr]
    assert store.prospects.get(other).state is State.MEETING_BOOKED  # type: ignore[union-attr]


def test_a_deal_won_the_table_refuses_is_journaled_as_refused_once(store: Store, twin: HubSpotTwin) -> None:
    """Won straight from ``replied`` (no meeting recorded) is not an edge of the table: the refusal is
    journaled, with the deal, once; the prospect stays where it was."""
    pid = prospect(store, "ledgerly.example", email="asha@ledgerly.example", reply="interested")
    sink = sink_for(twin, store)
    push_pass(store, sink, crm(twin), console_url=CONSOLE)
    twin.add_deal("ledgerly.example", stage="closedwon")

    assert poll_deals(store, sink, crm(twin)).as_dict() == {"deal_won_refused": 1}
    assert poll_deals(store, sink, crm(twin)).as_dict() == {}

    assert store.prospects.get(pid).state is State.REPLIED  # type: ignore[union-attr]
    refused = [e for e in store.journal.entries(pid) if e.kind == "transition_rejected"]
    assert len(refused) == 1 and refused[0].payload["event"] == "deal_won"


def test_a_company_with_two_closed_deals_is_journaled_once_per_deal_not_every_pass(
    store: Store, twin: HubSpotTwin
) -> None:
    """The push row keeps one deal; a second closed deal on the same company must not make every
    later poll alternate between them and journal again (found in review)."""
    pid = prospect(store, "ledgerly.example", email="asha@ledgerly.example", reply="interested", booked=True)
    sink = sink_for(twin, store)
    push_pass(store, sink, crm(twin), console_url=CONSOLE)
    first = twin.add_deal("ledgerly.example")
    second = twin.add_deal("ledgerly.example", name="expansion")
    twin.set_stage(first, "closedwon")
    twin.set_stage(second, "closedwon")
    assert poll_deals(store, sink, crm(twin)).as_dict() == {"deal_won": 1, "deal_won_refused": 1}
    count = len(store.journal.entries(pid))
    for _ in range(3):
        assert poll_deals(store, sink, crm(twin)).as_dict() == {}
    assert len(store.journal.entries(pid)) == count
    assert store.prospects.get(pid).state is State.WON  # type: ignore[union-attr]

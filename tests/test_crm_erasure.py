"""Erasure in the CRM, from review findings: a create whose answer was lost is still found (by the
push's key, ``gtm_push_id``) and erased; a contact the team's CRM held before the push is never
deleted, only what the push added, and the operator is told; an erasure is carried out by one pass.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts.exceptions import ApiException

from gtm_pipeline.config import load_settings
from gtm_pipeline.crm.csv_export import CsvSink
from gtm_pipeline.crm.sink import push_key
from gtm_pipeline.crm.sync import (
    ESCALATION_KIND,
    HANDOFF_KIND,
    SEARCH_SETTLE_SECONDS,
    WAITING,
    erase_pass,
    push_pass,
)
from gtm_pipeline.domain.clock import ManualClock
from gtm_pipeline.pipeline.privacy import erase
from gtm_pipeline.store import Store
from gtm_pipeline.store.crm_pushes import CLAIM_LEASE, CrmPushes
from gtm_pipeline.twins.hubspot import HubSpotTwin
from gtm_pipeline.twins.server import TwinSettings
from tests.conftest import TEST_START
from tests.test_crm import CONSOLE, crm, prospect, sink_for
from tests.threads import at_once

EMAIL = "asha@ledgerly.example"


@pytest.fixture
def store() -> Iterator[Store]:
    opened = Store.open(load_settings().paths.database_url, clock=ManualClock(TEST_START))
    yield opened
    opened.close()


@pytest.fixture
def twin() -> Iterator[HubSpotTwin]:
    with HubSpotTwin() as running:
        yield running


def forget(store: Store, who: str) -> None:
    erase(store, who, reason="data principal's request", now=TEST_START, response_days=30, pages=None)


def evidence(store: Store, pid: str) -> dict[str, object]:
    [entry] = [e for e in store.journal.entries(pid) if e.kind == "crm_erased"]
    return entry.payload


def after_search_settles(store: Store, extra_s: int = 1) -> None:
    """Move the manual clock past the time the CRM's search may lag behind a create."""
    assert isinstance(store.clock, ManualClock)
    store.clock.set(store.now() + dt.timedelta(seconds=SEARCH_SETTLE_SECONDS + extra_s))


# ------------------------------------------------------------------ 1. creates whose answer was lost


def test_a_contact_create_whose_answer_was_lost_is_erased_by_its_tag(store: Store, twin: HubSpotTwin) -> None:
    pid = prospect(store, "ledgerly.example", email=EMAIL, reply="interested")
    sink = sink_for(twin, store)
    # company search, company create, contact search; the contact create is carried out, answer lost
    twin.settings.script("ok", "ok", "ok", "accept_then_fail")
    assert push_pass(store, sink, crm(twin), console_url=CONSOLE).outcomes["failed"] == 1
    push = CrmPushes(store).of(pid, "hubspot")
    assert push is not None and push.contact_id is None and push.maybe_created
    [contact] = twin.live("contacts")
    assert contact["properties"]["gtm_push_id"] == push_key(pid, push.id)
    assert EMAIL.split("@")[0] not in push_key(pid, push.id)  # opaque: no personal data in the tag

    forget(store, EMAIL)
    # Right after the lost create the CRM's search cannot be trusted yet: nothing is settled.
    assert erase_pass(store, sink, crm(twin)).as_dict() == {WAITING: 1}
    assert twin.emails() == {EMAIL}
    after_search_settles(store)
    assert erase_pass(store, sink, crm(twin)).outcomes["erased"] == 1

    assert twin.emails() == set() and twin.domains() == set()
    assert contact["id"] in twin.archived["contacts"]
    payload = evidence(store, pid)
    assert "found by the push's key" in str(payload["deleted"]) and payload["ids"]["contact"] == contact["id"]  # type: ignore[index]
    # The note was never sent: the evidence says it was looked for, and how long after the create.
    assert payload["deleted"]["note"] == f"none found by key after {SEARCH_SETTLE_SECONDS + 1} s"  # type: ignore[index]


def test_a_create_that_timed_out_is_erased_even_with_no_id_on_the_row(store: Store) -> None:
    """A real read timeout on the company create: the row holds no id at all, yet the erasure must
    not withhold it (as it would a push that never reached the CRM): it finds the company by tag."""
    pid = prospect(store, "ledgerly.example", email=EMAIL, reply="interested")
    with HubSpotTwin(settings=TwinSettings(timeout_sleep_s=0.6), clock=store.clock) as twin:
        impatient = sink_for(twin, store)
        impatient.timeout_s = 0.2  # gives up before the twin answers the create
        twin.settings.script("ok", "timeout")
        assert push_pass(store, impatient, crm(twin), console_url=CONSOLE).outcomes["failed"] == 1
        push = CrmPushes(store).of(pid, "hubspot")
        assert push is not None and push.company_id is None and push.maybe_created
        assert "no answer" in (push.last_error or "")
        deadline = time.monotonic() + 5
        while not twin.domains() and time.monotonic() < deadline:  # HubSpot created it all the same
            time.sleep(0.05)
        assert twin.domains() == {"ledgerly.example"}

        forget(store, EMAIL)
        assert CrmPushes(store).of(pid, "hubspot").status == "erase_due"  # type: ignore[union-attr]
        assert erase_pass(store, sink_for(twin, store), crm(twin)).outcomes[WAITING] == 1
        after_search_settles(store)
        assert erase_pass(store, sink_for(twin, store), crm(twin)).outcomes["erased"] == 1
        assert twin.domains() == set()


def test_a_retry_recognises_its_own_lost_creates(store: Store, twin: HubSpotTwin) -> None:
    """The company create's answer was lost; the retry matches the company by domain, sees the push's
    key on it, and records it as created (so the erasure deletes it rather than keeping it as the
    team's); a lost note create is reused, not duplicated."""
    pid = prospect(store, "ledgerly.example", email=EMAIL, reply="interested")
    sink = sink_for(twin, store)
    twin.settings.script("ok", "accept_then_fail")
    push_pass(store, sink, crm(twin), console_url=CONSOLE)
    # company search (found, ours), contact search, contact create, note tag search, note create: lost
    twin.settings.script("ok", "ok", "ok", "ok", "accept_then_fail")
    push_pass(store, sink, crm(twin), console_url=CONSOLE)
    assert push_pass(store, sink, crm(twin), console_url=CONSOLE).outcomes["pushed"] == 1

    push = CrmPushes(store).of(pid, "hubspot")
    assert push is not None and push.status == "pushed"
    assert push.company_created and push.contact_created
    assert len(twin.live("companies")) == 1 and len(twin.notes()) == 1
    [note] = twin.live("notes")
    assert push.note_id == note["id"]

    forget(store, EMAIL)
    # maybe_created stays: a create lost before the retry may have left a duplicate not yet searchable
    assert erase_pass(store, sink, crm(twin)).outcomes[WAITING] == 1
    after_search_settles(store)
    assert erase_pass(store, sink, crm(twin)).outcomes["erased"] == 1
    assert twin.domains() == set() and twin.emails() == set() and twin.notes() == []


def test_the_twin_refuses_an_undefined_property_and_searches_by_the_tag(twin: HubSpotTwin) -> None:
    client = HubSpot(access_token=twin.token, host=twin.url)
    with pytest.raises(ApiException) as refused:
        client.crm.contacts.basic_api.create(
            simple_public_object_input_for_create={"properties": {"email": "x@y.example", "favourite": "tea"}}
        )
    assert refused.value.status == 400 and "PROPERTY_DOESNT_EXIST" in str(refused.value.body)
    made = client.crm.contacts.basic_api.create(
        simple_public_object_input_for_create={
            "properties": {"email": "x@y.example", "gtm_push_id": "gtm-k-1"}
        }
    )
    search = {
        "filterGroups": [{"filters": [{"propertyName": "gtm_push_id", "operator": "EQ", "value": "gtm-k-1"}]}]
    }
    found = client.crm.contacts.search_api.do_search(public_object_search_request=search)
    assert [o.id for o in found.results] == [made.id]
    twin.settings.script("unavailable")  # faults still apply to the search
    with pytest.raises(ApiException) as busy:
        client.crm.contacts.search_api.do_search(public_object_search_request=search)
    assert busy.value.status == 503


def test_a_portal_that_never_saw_the_tag_gets_it_defined_on_the_first_create(store: Store) -> None:
    pid = prospect(store, "ledgerly.example", email=EMAIL, reply="interested")
    with HubSpotTwin(tag_defined=False, clock=store.clock) as twin:
        sink = sink_for(twin, store)
        assert sink.find_tagged("contacts", "gtm-anything") == []  # undefined: nothing carries it
        assert push_pass(store, sink, crm(twin), console_url=CONSOLE).outcomes["pushed"] == 1
        assert all("gtm_push_id" in twin.defined[kind] for kind in ("companies", "contacts", "notes"))
        push = CrmPushes(store).of(pid, "hubspot")
        assert push is not None
        for kind in ("companies", "contacts", "notes"):
            [made] = twin.live(kind)
            assert made["properties"]["gtm_push_id"] == push_key(pid, push.id)
            assert sink.find_tagged(kind, push_key(pid, push.id)) == [made["id"]]


# ------------------------------------------------------------------ 2. a contact the team had before


def test_a_contact_the_crm_held_before_is_kept_and_handed_to_the_operator(
    store: Store, twin: HubSpotTwin
) -> None:
    sink = sink_for(twin, store)
    theirs = sink.upsert_company(domain="ledgerly.example", name="Ledgerly")  # entered by sales
    before = sink.upsert_contact(email=EMAIL, name="Asha Verma", role="CFO", company_id=theirs.id)
    [original] = twin.live("contacts")
    pid = prospect(store, "ledgerly.example", email=EMAIL, reply="interested")
    push_pass(store, sink, crm(twin), console_url=CONSOLE)
    push = CrmPushes(store).of(pid, "hubspot")
    assert push is not None and push.contact_id == before.id and not push.contact_created
    [note] = twin.live("notes")
    assert twin.live("contacts")[0]["associations"]["notes"] == [note["id"]]

    forget(store, EMAIL)
    report = erase_pass(store, sink, crm(twin))

    assert report.outcomes["erased"] == 1 and report.outcomes["left_for_operator"] == 1
    [contact] = twin.live("contacts")  # the team's record stays, as it was before the push
    assert contact["id"] == before.id and contact["properties"] == original["properties"]
    assert contact["associations"].get("notes") == [] and twin.notes() == []  # what we added is gone
    assert twin.domains() == {"ledgerly.example"}
    payload = evidence(store, pid)
    assert payload["deleted"]["note"] == "deleted"  # type: ignore[index]
    assert "left for the operator" in payload["deleted"]["contact"]  # type: ignore[index]
    assert payload["left_for_operator"] == {"contact": before.id}
    [handoff] = [e for e in store.escalations.open() if e.key == f"crm:hubspot:erase-handoff:{push.id}"]
    assert handoff.kind == HANDOFF_KIND and handoff.subject == pid and before.id in handoff.detail
    assert "asha" not in handoff.detail.lower() and "ledgerly" not in handoff.detail
    after = CrmPushes(store).of(pid, "hubspot")
    assert (
        after is not None and after.status == "erased" and "left for the operator" in (after.last_error or "")
    )


def test_a_contact_the_pipeline_created_is_still_deleted(store: Store, twin: HubSpotTwin) -> None:
    pid = prospect(store, "ledgerly.example", email=EMAIL, reply="interested")
    sink = sink_for(twin, store)
    push_pass(store, sink, crm(twin), console_url=CONSOLE)
    assert CrmPushes(store).of(pid, "hubspot").contact_created  # type: ignore[union-attr]
    forget(store, EMAIL)
    assert erase_pass(store, sink, crm(twin)).outcomes["left_for_operator"] == 0
    assert twin.emails() == set()
    assert not [e for e in store.escalations.open() if "erase-handoff" in e.key]


# ------------------------------------------------------------------ 3. one pass carries an erasure out


def test_an_erasure_claimed_by_one_pass_is_skipped_by_another_until_its_lease_ends(
    store: Store, twin: HubSpotTwin
) -> None:
    pid = prospect(store, "ledgerly.example", email=EMAIL, reply="interested")
    sink = sink_for(twin, store)
    push_pass(store, sink, crm(twin), console_url=CONSOLE)
    forget(store, EMAIL)
    pushes = CrmPushes(store)
    row = pushes.of(pid, "hubspot")
    assert row is not None
    first, second = pushes.claim_erasure(row.id, "pass-a"), pushes.claim_erasure(row.id, "pass-b")
    assert first is not None and first.status == "erasing" and second is None

    requests = twin.server.requests
    assert erase_pass(store, sink, crm(twin)).as_dict() == {}  # not even listed while claimed
    assert twin.server.requests == requests and twin.emails() == {EMAIL}

    assert isinstance(store.clock, ManualClock)
    store.clock.set(TEST_START + CLAIM_LEASE + dt.timedelta(seconds=1))  # pass-a died
    assert erase_pass(store, sink, crm(twin)).outcomes["erased"] == 1
    assert twin.emails() == set()
    assert not pushes.mark_erased(row.id, "pass-a", outcome="late")  # the dead pass changes nothing
    assert pushes.of(pid, "hubspot").status == "erased"  # type: ignore[union-attr]
    assert len([e for e in store.journal.entries(pid) if e.kind == "crm_erased"]) == 1


def test_two_processes_erasing_at_once_carry_each_erasure_out_once(store: Store, twin: HubSpotTwin) -> None:
    domains = [f"company{i}.example" for i in range(6)]
    pids = [prospect(store, d, email=f"cfo@{d}", reply="interested") for d in domains]
    sink = sink_for(twin, store)
    push_pass(store, sink, crm(twin), console_url=CONSOLE)
    for domain in domains:
        forget(store, f"cfo@{domain}")
    twin.settings.latency_s = 0.02  # long enough for the two passes to overlap
    stores = [Store.open(load_settings().paths.database_url, clock=store.clock) for _ in range(2)]
    try:
        reports = at_once(2, lambda i: erase_pass(stores[i], sink_for(twin, stores[i]), crm(twin)))
    finally:
        for opened in stores:
            opened.close()

    assert sum(r.outcomes["erased"] for r in reports) == len(pids)
    assert twin.domains() == set() and twin.emails() == set()
    # Each object deleted by one request only: a second would have found it gone ("already gone").
    for pid in pids:
        payload = evidence(store, pid)
        assert payload["deleted"] == {"note": "deleted", "contact": "deleted", "company": "deleted"}
    assert not [e for e in store.escalations.open() if e.kind == ESCALATION_KIND]


def test_a_company_shared_by_two_erasures_in_two_passes_is_not_kept_by_each_for_the_other(
    store: Store, twin: HubSpotTwin
) -> None:
    """Two prospects' pushes on one company, both erased, carried out by two passes at once: each
    must not keep the company because the other's row still points at it."""
    pid = prospect(store, "ledgerly.example", email=EMAIL, reply="interested")
    sink = sink_for(twin, store)
    push_pass(store, sink, crm(twin), console_url=CONSOLE)
    pushes = CrmPushes(store)
    first = pushes.of(pid, "hubspot")
    assert first is not None and first.company_id is not None
    other = "p_" + "0" * 20  # a second prospect's row on the same company (as a push would record)
    pushes.enqueue(other, subject_hash=None, system="hubspot", trigger="reply:interested")
    row = pushes.of(other, "hubspot")
    assert row is not None and pushes.claim(row.id, "pass-x") is not None
    pushes.mark_pushed(
        row.id,
        "pass-x",
        company_id=first.company_id,
        company_created=True,
        contact_id="c-x",
        contact_created=True,
        note_id="n-x",
    )
    forget(store, EMAIL)
    pushes.mark_erase_due([other], None)
    assert pushes.claim_erasure(row.id, "pass-b") is not None  # the other pass is at work on it

    erase_pass(store, sink, crm(twin))

    assert twin.domains() == set()
    assert evidence(store, pid)["deleted"]["company"] == "deleted"  # type: ignore[index]


# ------------------------------------------------------------------ 4. HubSpot's search lags behind a create


def test_the_twin_finds_a_new_object_by_search_only_after_its_lag() -> None:
    clock = ManualClock(TEST_START)
    with HubSpotTwin(search_lag_s=30, clock=clock) as twin:
        client = HubSpot(access_token=twin.token, host=twin.url)
        made = client.crm.contacts.basic_api.create(
            simple_public_object_input_for_create={
                "properties": {"email": "x@y.example", "gtm_push_id": "gtm-k-1"}
            }
        )
        search = {
            "filterGroups": [
                {"filters": [{"propertyName": "gtm_push_id", "operator": "EQ", "value": "gtm-k-1"}]}
            ]
        }
        assert client.crm.contacts.search_api.do_search(public_object_search_request=search).results == []
        assert client.crm.contacts.basic_api.get_by_id(made.id).id == made.id  # read sees it at once
        clock.set(TEST_START + dt.timedelta(seconds=29))
        assert client.crm.contacts.search_api.do_search(public_object_search_request=search).results == []
        clock.set(TEST_START + dt.timedelta(seconds=30))
        found = client.crm.contacts.search_api.do_search(public_object_search_request=search)
        assert [o.id for o in found.results] == [made.id]


def test_an_erasure_right_after_a_timed_out_create_waits_for_the_search_index(store: Store) -> None:
    """The contact create times out (HubSpot creates it all the same) and the person is erased seconds
    later, while HubSpot's search does not find the contact yet: the pass must not record the erasure
    as done with the contact still in the CRM. It leaves the row due and says why; once the search can
    be trusted, a pass finds the contact by the push's key and deletes it."""
    pid = prospect(store, "ledgerly.example", email=EMAIL, reply="interested")
    assert isinstance(store.clock, ManualClock)
    with HubSpotTwin(settings=TwinSettings(timeout_sleep_s=0.6), clock=store.clock, search_lag_s=30) as twin:
        impatient = sink_for(twin, store)
        impatient.timeout_s = 0.2
        # company search, company create, contact search; the contact create times out
        twin.settings.script("ok", "ok", "ok", "timeout")
        assert push_pass(store, impatient, crm(twin), console_url=CONSOLE).outcomes["failed"] == 1
        deadline = time.monotonic() + 5
        while not twin.emails() and time.monotonic() < deadline:  # HubSpot created it all the same
            time.sleep(0.05)
        assert twin.emails() == {EMAIL}
        push = CrmPushes(store).of(pid, "hubspot")
        assert push is not None and push.contact_id is None and push.maybe_created
        key = push_key(pid, push.id)

        store.clock.set(TEST_START + dt.timedelta(seconds=5))
        forget(store, EMAIL)
        sink = sink_for(twin, store)
        assert sink.find_tagged("contacts", key) == []  # the lag is real: search cannot see it yet
        report = erase_pass(store, sink, crm(twin))

        assert report.outcomes["erased"] == 0 and report.outcomes[WAITING] == 1
        assert twin.emails() == {EMAIL} and twin.domains() == {"ledgerly.example"}  # nothing half-done
        [why] = report.notes
        assert f"push {push.id}" in why and "search index" in why and "5 s ago" in why
        assert "asha" not in why.lower() and "ledgerly" not in why
        row = CrmPushes(store).of(pid, "hubspot")
        assert row is not None and row.status == "erase_due" and row.attempts == push.attempts
        assert "waiting for the CRM's search index" in (row.last_error or "")
        assert not [e for e in store.journal.entries(pid) if e.kind == "crm_erased"]
        assert not [e for e in store.escalations.open() if e.kind == ESCALATION_KIND]

        # Later passes inside the grace period still wait: it counts from the create, not the pass.
        store.clock.set(TEST_START + dt.timedelta(seconds=SEARCH_SETTLE_SECONDS - 1))
        assert erase_pass(store, sink, crm(twin)).as_dict() == {WAITING: 1}
        assert sink.find_tagged("contacts", key) != []  # searchable by now, but not yet trusted

        store.clock.set(TEST_START + dt.timedelta(seconds=SEARCH_SETTLE_SECONDS))
        assert erase_pass(store, sink, crm(twin)).outcomes["erased"] == 1

        assert twin.emails() == set() and twin.domains() == set()
        payload = evidence(store, pid)
        deleted = payload["deleted"]
        assert isinstance(deleted, dict)
        assert deleted["contact"].startswith("deleted") and "found by the push's key" in deleted["contact"]
        assert deleted["company"] == "deleted"
        assert deleted["note"] == f"none found by key after {SEARCH_SETTLE_SECONDS} s"
        after = CrmPushes(store).of(pid, "hubspot")
        assert after is not None and after.status == "erased"
        assert f"note none found by key after {SEARCH_SETTLE_SECONDS} s" in (after.last_error or "")


def test_an_erasure_that_overtook_a_push_whose_pass_died_waits_for_the_search_index(store: Store) -> None:
    """The push's pass sent a create and died before recording anything; the erasure lands while the
    row is still ``pushing``. The row holds no id, so only the search by key can find the company,
    and it must not be trusted right after the create either."""
    pid = prospect(store, "ledgerly.example", email=EMAIL, reply="interested")
    assert isinstance(store.clock, ManualClock)
    with HubSpotTwin(clock=store.clock, search_lag_s=30) as twin:
        sink = sink_for(twin, store)
        pushes = CrmPushes(store)
        assert pushes.enqueue(pid, subject_hash=None, system="hubspot", trigger="reply:interested")
        row = pushes.of(pid, "hubspot")
        assert row is not None and pushes.claim(row.id, "pass-dead") is not None
        sink.upsert_company(domain="ledgerly.example", name="Ledgerly", key=push_key(pid, row.id))
        forget(store, EMAIL)  # the dead pass never settles the row

        assert erase_pass(store, sink, crm(twin)).as_dict() == {WAITING: 1}
        assert twin.domains() == {"ledgerly.example"}
        after_search_settles(store)
        assert erase_pass(store, sink, crm(twin)).outcomes["erased"] == 1
        assert twin.domains() == set()
        assert "found by the push's key" in evidence(store, pid)["deleted"]["company"]  # type: ignore[index]


def test_the_csv_export_tags_rows_with_the_push_key(tmp_path: Path) -> None:
    sink = CsvSink(tmp_path / "export")
    made = sink.upsert_company(domain="ledgerly.example", name="Ledgerly", key="gtm-p-1")
    assert made.created and sink.find_tagged("companies", "gtm-p-1") == [made.id]
    assert sink.upsert_company(domain="ledgerly.example", name="Ledgerly", key="gtm-p-1").created  # its own
    assert not sink.upsert_company(domain="ledgerly.example", name="Ledgerly", key="gtm-p-2").created
    assert sink.find_tagged("companies", "gtm-p-2") == []

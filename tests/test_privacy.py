"""DPDP: erasure tombstones and suppresses, access exports, requests are tracked, retention erases."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from gtm_pipeline.config import SettingsError, load_settings
from gtm_pipeline.domain.ids import email_hash, prospect_id
from gtm_pipeline.domain.states import State
from gtm_pipeline.pipeline.audit import replay_check
from gtm_pipeline.pipeline.discover import discover
from gtm_pipeline.pipeline.privacy import (
    UnknownSubjectError,
    erase,
    export,
    fulfil_access,
    fulfil_erasure,
    record_request,
)
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.pipeline.timekeeping import apply, plan, sequence_policy
from tests.conftest import HYPOTHESIS
from tests.corpus import expected
from tests.helpers import run_all

EMAIL = "priya.raman@medibridge-health.example"
NAME = "Priya Raman"
PID = prospect_id("medibridge-health.example")
NOW = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
DAYS = 30  # the published response period these tests use


def personal_forms(email: str, name: str) -> list[bytes]:
    """The forms a name or address could be stored in: as is, case-folded, URL- or JSON-escaped."""
    forms = {
        email,
        email.upper(),
        email.replace("@", "%40"),
        email.replace("@", "\\u0040"),
        email.split("@")[0],
        name,
        name.lower(),
        name.upper(),
        name.replace(" ", "+"),
        name.replace(" ", "%20"),
    }
    return [f.encode() for f in forms]


def scan(home: Path, forms: list[bytes]) -> list[str]:
    found = []
    for path in home.rglob("*"):
        if path.is_file():
            blob = path.read_bytes()
            found += [f"{path.relative_to(home)}: {f.decode()}" for f in forms if f in blob]
    return found


def test_export_then_erase_by_email(services: Services) -> None:
    run_all(services)
    exported = export(services.store, EMAIL.upper(), now=NOW, response_days=DAYS)
    (held,) = exported["prospects"]
    assert held["prospect_id"] == PID and held["contact"]["email"] == EMAIL and held["purpose"]
    assert {s["source_id"] for s in held["sources"]} >= {"medibridge-health/01-about"}
    assert any(d["kind"] == "skill_result" for d in held["decisions"])

    report = erase(
        services.store,
        EMAIL,
        reason="data principal request",
        now=NOW,
        response_days=DAYS,
        pages=services.pages,
    )
    assert report.prospect_ids == [PID] and report.compacted
    assert report.counts["artifacts"] >= 8 and report.counts["journal_entries"] >= 8
    prospect = services.store.prospects.get(PID)
    assert prospect is not None and prospect.state is State.DO_NOT_CONTACT
    assert prospect.contact_email is None and prospect.contact_name is None
    assert all(a.content is None for a in services.store.artifacts.of_kind(PID, "raw_source"))
    assert services.store.privacy.suppression_reason(email_hash(EMAIL)) == "data principal request"
    assert PID not in {r.prospect_id for r in services.store.reviews.pending()}  # withdrawn, never sent
    # the audit trail stays: hashes verify, decisions and the reason are kept
    assert replay_check(services.store).ok
    kinds = [e.kind for e in services.store.journal.entries(PID)]
    assert kinds[-2:] == ["erasure", "transition"]
    tombstoned = next(e for e in services.store.journal.entries(PID) if e.kind == "skill_result")
    assert tombstoned.payload["producer"]["skill"] == "discover-prospects"
    assert tombstoned.payload["tombstone"] == {"reason": "data principal request"}
    requests = services.store.privacy.rights_requests()
    assert [(r["kind"], r["status"]) for r in requests] == [("access", "completed"), ("erasure", "completed")]
    assert requests[0]["due_at"] == NOW + dt.timedelta(days=DAYS)
    after = export(services.store, EMAIL, now=NOW, response_days=DAYS)
    assert after["suppressed"] and after["prospects"][0]["contact"]["email"] is None


def test_a_recorded_request_is_carried_out_later_from_its_hash_alone(
    services: Services, gtm_home: Path
) -> None:
    run_all(services)
    stranger = "someone.else@elsewhere.example"
    access = record_request(services.store, kind="access", email=EMAIL.upper(), now=NOW, response_days=DAYS)
    erasure = record_request(services.store, kind="erasure", email=EMAIL, now=NOW, response_days=DAYS)
    unknown = record_request(services.store, kind="erasure", email=stranger, now=NOW, response_days=DAYS)
    with pytest.raises(ValueError, match="kind must be one of"):
        record_request(services.store, kind="delete", email=EMAIL, now=NOW, response_days=DAYS)
    with pytest.raises(UnknownSubjectError, match="not an open erasure request"):
        fulfil_erasure(services.store, access, now=NOW, reason="wrong kind", pages=services.pages)
    (held,) = fulfil_access(services.store, access, now=NOW)["prospects"]
    assert held["prospect_id"] == PID and held["contact"]["email"] == EMAIL
    report = fulfil_erasure(services.store, erasure, now=NOW, reason="request by mail", pages=services.pages)
    assert report.prospect_ids == [PID] and report.request_id == erasure
    assert services.store.privacy.suppression_reason(email_hash(EMAIL)) == "request by mail"
    # someone we never held: nothing to erase, and still never to be contacted
    assert (
        fulfil_erasure(services.store, unknown, now=NOW, reason="request", pages=services.pages).prospect_ids
        == []
    )
    assert services.store.privacy.suppression_reason(email_hash(stranger)) == "request"
    assert {r["status"] for r in services.store.privacy.rights_requests()} == {"completed"}
    with pytest.raises(UnknownSubjectError):
        fulfil_erasure(services.store, erasure, now=NOW, reason="twice", pages=services.pages)
    services.close()
    assert scan(gtm_home, personal_forms(EMAIL, NAME)) == []


def test_an_erased_person_is_never_rediscovered_or_refetched(services: Services) -> None:
    run_all(services)
    erase(services.store, EMAIL, reason="request", now=NOW, response_days=DAYS, pages=services.pages)
    before = services.store.table_counts()
    run_all(services)
    after = services.store.table_counts()
    assert after["artifacts"] == before["artifacts"]
    assert services.store.prospects.get(PID).state is State.DO_NOT_CONTACT  # type: ignore[union-attr]


def test_a_suppressed_address_blocks_discovery_of_a_new_prospect(services: Services) -> None:
    services.store.privacy.suppress(
        email_hash("d.okafor@carepoint-clinics.example"), kind="email", reason="unsubscribe"
    )
    report = discover(services, services.hypotheses[HYPOTHESIS])
    pid = prospect_id("carepoint-clinics.example")
    assert pid in report.suppressed and services.store.prospects.get(pid) is None
    assert services.store.journal.entries(pid) == []  # no skill ran on them, nothing was stored


def test_after_an_erasure_no_file_under_gtm_home_holds_the_person(services: Services, gtm_home: Path) -> None:
    run_all(services)
    forms = personal_forms(EMAIL, NAME)
    assert scan(gtm_home, forms), "the scan must find the person before the erasure"
    erase(services.store, EMAIL, reason="request", now=NOW, response_days=DAYS, pages=services.pages)
    services.close()
    assert scan(gtm_home, forms) == []


def test_the_retention_rule_erases_inactive_prospects(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_all(services)
    policy = sequence_policy(services.catalog)
    soon = services.clock.now() + dt.timedelta(days=30)
    assert [p for p in plan(services.store, policy, soon, 365) if p.retention] == []
    later = services.clock.now() + dt.timedelta(days=366)
    planned = plan(services.store, policy, later, 365)
    assert len(planned) == expected().prospects and all(p.retention for p in planned)
    apply(services.store, planned, later, pages=services.pages)
    assert {p.state for p in services.store.prospects.find()} == {State.DO_NOT_CONTACT}
    assert services.store.privacy.rights_requests() == []  # a rule, not a request
    assert replay_check(services.store).ok


def test_the_response_period_can_never_exceed_ninety_days(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GTM_RIGHTS_RESPONSE_DAYS", "91")
    with pytest.raises(SettingsError, match=r"GTM_RIGHTS_RESPONSE_DAYS: privacy\.rights_response_days: .*90"):
        load_settings()


def test_erasure_reaches_the_send_ledger_and_the_inbox(services: Services, gtm_home: Path) -> None:
    """After a rehearsed campaign (sends, webhooks, a fetched reply), erasure leaves no trace."""
    from gtm_pipeline.rehearsal import rehearse

    run_all(services)
    prospect = services.store.prospects.get(PID)
    assert prospect is not None and prospect.contact_email == EMAIL
    report = rehearse(
        services, behaviours={PID: "interested"}, start=dt.datetime(2026, 11, 23, 10, tzinfo=dt.UTC)
    )
    assert report.states[PID] == "replied"
    ledger = services.store.ledger
    assert ledger.touches(PID) and any(e.raw_message for e in services.store.inbox.events(PID))
    erase(services.store, EMAIL, reason="dpdp-request", now=NOW, response_days=DAYS, pages=services.pages)
    assert scan(gtm_home, personal_forms(EMAIL, NAME)) == []
    assert all(not t.payload for t in ledger.touches(PID))
    assert all(e.raw_message is None for e in services.store.inbox.events(PID))
    assert replay_check(services.store, anchors={}).ok

"""Conflicts are first-class destinations: never a second touch, never a cold touch to a customer."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gtm_pipeline.config import load_settings
from gtm_pipeline.domain.ids import prospect_id
from gtm_pipeline.domain.states import State
from gtm_pipeline.pipeline.conflicts import AccountsFileError, load_accounts
from gtm_pipeline.pipeline.discover import discover
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.store import NewProspect
from tests.conftest import HYPOTHESIS, STARTER
from tests.helpers import run_all


def test_customers_and_open_deals_from_the_accounts_list_become_conflicts(gtm_home: Path) -> None:
    gtm_home.mkdir(parents=True)
    shutil.copyfile(STARTER / "accounts.csv", gtm_home / "accounts.csv")
    services = Services.from_settings(load_settings())
    try:
        run_all(services)
        for domain, relationship in (
            ("riverbend-medical.example", "customer"),
            ("pinecrest-pharmacy.example", "open deal"),
        ):
            pid = prospect_id(domain)
            prospect = services.store.prospects.get(pid)
            assert prospect is not None and prospect.state is State.CONFLICT
            conflict = next(
                e
                for e in services.store.journal.entries(pid)
                if e.payload.get("event") == "conflict_detected"
            )
            assert relationship in conflict.payload["rationale"] and conflict.actor == "rule:conflict@1"
            assert services.store.artifacts.of_kind(pid, "draft") == []  # never drafted, never touched
    finally:
        services.close()


def test_a_second_hypothesis_reaching_a_prospect_is_a_conflict(
    gtm_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "hypotheses"
    folder.mkdir()
    source = (STARTER / "hypotheses" / f"{HYPOTHESIS}.md").read_text()
    (folder / f"{HYPOTHESIS}.md").write_text(source)
    (folder / "clinic-audit-season.md").write_text(
        source.replace("title: Healthcare", "title: Clinics in audit season")
    )
    monkeypatch.setenv("GTM_HYPOTHESES_DIR", str(folder))
    services = Services.from_settings(load_settings())
    try:
        first = run_all(services)
        second = discover(services, services.hypotheses["clinic-audit-season"])
        assert second.registered == []  # one prospect per company, ever
        awaiting = [p for p in first if p in second.conflicts]
        assert awaiting, "pre-send prospects found again must be stopped"
        for pid in awaiting:
            assert services.store.prospects.get(pid).state is State.CONFLICT  # type: ignore[union-attr]
            assert services.store.reviews.pending() == [] or pid not in {
                r.prospect_id for r in services.store.reviews.pending()
            }
    finally:
        services.close()


def test_the_same_person_at_another_company_is_a_conflict(services: Services) -> None:
    services.store.prospects.add(
        NewProspect(
            "p_" + "9" * 20,
            HYPOTHESIS,
            "old-employer.example",
            "Old Employer",
            contact_name="Daniel Okafor",
            contact_email="d.okafor@carepoint-clinics.example",
        ),
        actor="test",
        payload={},
    )
    report = discover(services, services.hypotheses[HYPOTHESIS])
    pid = prospect_id("carepoint-clinics.example")
    assert pid in report.conflicts
    assert services.store.prospects.get(pid).state is State.CONFLICT  # type: ignore[union-attr]


def test_a_broken_accounts_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "accounts.csv"
    path.write_text("domain,relationship\nacme.example,customer\nbeta.example,friend\n")
    with pytest.raises(AccountsFileError, match=r"accounts\.csv:3"):
        load_accounts(path)

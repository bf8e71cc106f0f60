"""The CRM's other faces: the CSV export (same interface, same guarantees), the settings (off by
default), the rehearsal's sync-and-win, and the Dagster job and schedule."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from pydantic import ValidationError

from gtm_pipeline.config import load_settings
from gtm_pipeline.config.crm import CrmSettings
from gtm_pipeline.crm import build as crm_build
from gtm_pipeline.crm.build import CrmNotConfiguredError, build_sink, crm_settings
from gtm_pipeline.crm.csv_export import CsvSink
from gtm_pipeline.crm.rehearse import sync_and_win
from gtm_pipeline.crm.sync import erase_pass, push_pass
from gtm_pipeline.defs import crm as crm_defs
from gtm_pipeline.defs.resources import gtm_resource
from gtm_pipeline.domain.clock import ManualClock
from gtm_pipeline.domain.states import State
from gtm_pipeline.pipeline.privacy import erase
from gtm_pipeline.store import Store
from gtm_pipeline.store.crm_pushes import CrmPushes
from gtm_pipeline.twins.hubspot import HubSpotTwin
from tests.conftest import TEST_START
from tests.test_crm import CONSOLE, prospect


@pytest.fixture
def store() -> Iterator[Store]:
    opened = Store.open(load_settings().paths.database_url, clock=ManualClock(TEST_START))
    yield opened
    opened.close()


def rows(folder: Path, kind: str) -> list[dict[str, str]]:
    with (folder / f"{kind}.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_csv_export_pushes_once_and_erasure_removes_the_person(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "export"
    sink = CsvSink(folder)
    settings = CrmSettings(kind="csv")
    pid = prospect(store, "ledgerly.example", email="asha@ledgerly.example", reply="interested")
    prospect(store, "staysco.example", email="jo@staysco.example", reply="question")

    push_pass(store, sink, settings, console_url=CONSOLE)
    push_pass(store, sink, settings, console_url=CONSOLE)

    assert sorted(r["domain"] for r in rows(folder, "companies")) == ["ledgerly.example", "staysco.example"]
    assert sorted(r["email"] for r in rows(folder, "contacts")) == [
        "asha@ledgerly.example",
        "jo@staysco.example",
    ]
    assert len(rows(folder, "notes")) == 2
    assert (folder / "contacts.csv").stat().st_mode & 0o077 == 0  # personal data: owner only
    assert sink.deal_stages() == []

    erase(store, "asha@ledgerly.example", reason="request", now=TEST_START, response_days=30, pages=None)
    assert erase_pass(store, sink, settings).outcomes["erased"] == 1

    assert [r["email"] for r in rows(folder, "contacts")] == ["jo@staysco.example"]
    assert [r["domain"] for r in rows(folder, "companies")] == ["staysco.example"]
    assert "asha" not in (folder / "notes.csv").read_text().lower()
    assert CrmPushes(store).of(pid, "csv").status == "erased"  # type: ignore[union-attr]


def test_settings_are_off_by_default_and_checked() -> None:
    settings = load_settings()
    assert crm_settings(settings).kind == "none"
    assert build_sink(settings, CrmSettings(), clock=ManualClock(TEST_START)) is None
    with pytest.raises(CrmNotConfiguredError, match="GTM_HUBSPOT_TOKEN"):
        build_sink(settings, CrmSettings(kind="hubspot"), clock=ManualClock(TEST_START))
    with pytest.raises(ValidationError, match="unknown trigger"):
        CrmSettings(triggers=["reply:not_now"])
    with pytest.raises(ValidationError):
        CrmSettings(api_url="ftp://crm")
    sink = build_sink(settings, CrmSettings(kind="csv", csv_folder="crm"), clock=ManualClock(TEST_START))
    assert isinstance(sink, CsvSink) and sink.folder == settings.paths.home / "crm"


def test_sync_and_win_for_the_rehearsal(store: Store) -> None:
    booked = prospect(
        store, "ledgerly.example", email="asha@ledgerly.example", reply="interested", booked=True
    )
    prospect(store, "staysco.example", email="jo@staysco.example", reply="question")
    prospect(store, "quietco.example", email="ravi@quietco.example", reply="other")
    with HubSpotTwin(clock=store.clock) as twin:
        result = sync_and_win(store, twin, console_url=CONSOLE)
        assert twin.domains() == {"ledgerly.example", "staysco.example"}
    assert result.crm_domains == {"ledgerly.example", "staysco.example"}
    assert result.pushed["pushed"] == 2 and result.won == [booked] and len(result.deal_ids) == 1
    assert result.polled == {"deal_won": 1}
    assert store.prospects.get(booked).state is State.WON  # type: ignore[union-attr]


def test_schedule_skips_while_the_crm_is_off() -> None:
    assert crm_defs.crm_sync_every_10_minutes.cron_schedule == "*/10 * * * *"
    with dg.build_schedule_context(resources={"gtm": gtm_resource(load_settings())}) as context:
        result = crm_defs.crm_sync_every_10_minutes.evaluate_tick(context)
    assert not result.run_requests and "crm.kind = none" in (result.skip_message or "")


def test_the_job_runs_a_pass_in_dagster(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a CRM configured (here the CSV export, set as ``[crm]`` would), one run pushes; its tags
    and logs carry no personal data."""
    pid = prospect(store, "ledgerly.example", email="asha@ledgerly.example", reply="interested")
    store.close()
    folder = tmp_path / "export"
    monkeypatch.setattr(crm_defs, "crm_settings", lambda _s: CrmSettings(kind="csv", csv_folder=str(folder)))
    monkeypatch.setattr(crm_build, "crm_settings", lambda _s: CrmSettings(kind="csv", csv_folder=str(folder)))

    result = crm_defs.crm_sync_job.execute_in_process(resources={"gtm": gtm_resource(load_settings())})

    assert result.success
    assert [r["domain"] for r in rows(folder, "companies")] == ["ledgerly.example"]
    messages = " ".join(str(e.message) for e in result.all_events if e.message)
    assert "asha" not in messages and "ledgerly" not in messages
    assert all("ledgerly" not in str(v) for v in result.dagster_run.tags.values())
    reopened = Store.open(load_settings().paths.database_url)
    try:
        assert CrmPushes(reopened).of(pid, "csv").status == "pushed"  # type: ignore[union-attr]
    finally:
        reopened.close()


def test_csv_rows_written_by_many_threads_at_once_are_all_kept(tmp_path: Path) -> None:
    """Found in review: a read-modify-write without a lock loses rows when two passes overlap."""
    from tests.threads import at_once

    sink = CsvSink(tmp_path / "export")
    at_once(16, lambda i: sink.upsert_company(domain=f"company-{i}.example", name=f"Company {i}"))
    assert sorted(r["domain"] for r in sink.rows("companies")) == sorted(
        f"company-{i}.example" for i in range(16)
    )

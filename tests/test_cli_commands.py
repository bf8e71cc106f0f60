"""The CLI commands an operator uses day to day, each over a real store made by `gtm demo`."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import resend

from gtm_pipeline.store import Store
from gtm_pipeline.twins.resend_twin import ResendTwin
from tests.conftest import REPO

EMAIL = "priya.raman@medibridge-health.example"


def _gtm(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "GTM_DATABASE_URL")}
    environment.update(GTM_HOME=str(home), **env)
    return subprocess.run(
        [sys.executable, "-m", "gtm_pipeline.cli", *args],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("demo") / "home"
    done = _gtm(home, "demo")
    assert done.returncode == 0, done.stderr[-2000:]
    return home


@pytest.fixture
def home(demo_home: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "home"
    shutil.copytree(demo_home, copy)
    return copy


def _store(home: Path) -> Store:
    return Store.open(f"sqlite:///{home / 'gtm.sqlite'}")


def test_costs_report_every_call_by_day_group_provider_and_skill(home: Path) -> None:
    shown = _gtm(home, "costs", "--json")
    assert shown.returncode == 0, shown.stderr[-2000:]
    report = json.loads(shown.stdout)
    store = _store(home)
    calls = sum(r["calls"] for r in store.spend.rows())
    store.close()
    assert calls > 0 and sum(r["calls"] for r in report["ledger"]) == calls
    assert {r["provider"] for r in report["ledger"]} == {"offline"} and report["total_usd"] == 0.0
    assert {"augment-profile@1.0.0", "draft-first-touch@1.0.0"} <= set(report["per_skill"])
    text = _gtm(home, "costs")
    assert text.returncode == 0 and "total $0.0000" in text.stdout


def test_export_prints_what_is_held_and_records_the_access_request(home: Path) -> None:
    exported = _gtm(home, "export", EMAIL)
    assert exported.returncode == 0, exported.stderr[-2000:]
    data = json.loads(exported.stdout)
    (held,) = data["prospects"]
    assert held["contact"]["email"] == EMAIL and held["sources"] and held["decisions"]
    listed = _gtm(home, "rights", "list", "--all")
    assert f"#{data['request_id']:<4} access" in listed.stdout and "completed" in listed.stdout


def test_a_rights_request_is_recorded_listed_with_its_due_date_and_completed(home: Path) -> None:
    added = _gtm(
        home, "rights", "add", "--kind", "grievance", "--email", EMAIL, GTM_RIGHTS_RESPONSE_DAYS="45"
    )
    assert added.returncode == 0, added.stderr[-2000:]
    assert "due in 45 days" in added.stdout
    store = _store(home)
    (request,) = store.privacy.rights_requests(status="open")
    store.close()
    assert request["due_at"] - request["received_at"] == dt.timedelta(days=45)
    assert f"#{request['id']:<4} grievance" in _gtm(home, "rights", "list").stdout
    (listed,) = json.loads(_gtm(home, "rights", "list", "--json").stdout)
    assert (listed["id"], listed["kind"], listed["overdue"]) == (request["id"], "grievance", False)
    assert EMAIL not in json.dumps(listed)  # only the hash is kept
    refused = _gtm(home, "rights", "add", "--kind", "delete", "--email", EMAIL)
    assert refused.returncode == 2 and "kind must be one of" in refused.stderr
    done = _gtm(home, "rights", "complete", str(request["id"]), "--outcome", "explained the source")
    assert done.returncode == 0 and "0 request(s)" in _gtm(home, "rights", "list").stdout


def test_an_escalation_is_acknowledged_once_and_leaves_the_status(home: Path) -> None:
    store = _store(home)
    store.escalations.raise_("spend_cap", "test:cap", subject="research", detail="daily cap reached")
    (escalation,) = [e for e in store.escalations.open() if e.kind == "spend_cap"]
    store.close()
    assert "spend_cap" in _gtm(home, "status").stdout
    acked = _gtm(home, "escalations", "ack", str(escalation.id), "--note", "raised the cap")
    assert acked.returncode == 0, acked.stderr[-2000:]
    assert "spend_cap" not in _gtm(home, "status").stdout
    again = _gtm(home, "escalations", "ack", str(escalation.id))
    assert again.returncode == 1 and "already acknowledged" in again.stderr
    store = _store(home)
    (entry,) = store.journal.entries(f"escalation:{escalation.id}")
    store.close()
    assert entry.actor == "operator:cli" and entry.payload.get("note") == "raised the cap"


def test_send_and_inbox_process_go_through_the_twin_once_sending_is_on(home: Path) -> None:
    store = _store(home)
    first = store.reviews.pending()[0]
    store.close()
    assert _gtm(home, "review", "approve", str(first.id)).returncode == 0
    with ResendTwin(default_behaviour="interested") as twin:
        saved, resend.api_key = resend.api_key, None
        env = {"RESEND_API_KEY": twin.api_key, "RESEND_API_URL": twin.url}
        try:
            refused = _gtm(home, "send", "--at", "2026-11-24T10:00Z", **env)
            assert refused.returncode == 2 and "sending is switched off" in refused.stderr
            store = _store(home)
            store.ledger.switch_sending(True, actor="operator:test", reason="test", schedule="not used")
            store.close()
            sent = _gtm(home, "send", "--at", "2026-11-24T10:00Z", **env)
        finally:
            resend.api_key = saved
        assert sent.returncode == 0, sent.stderr[-2000:]
        assert f"{first.prospect_id}  sent" in sent.stdout
        (email,) = twin.emails.values()
    store = _store(home)
    (touch,) = store.ledger.touches(first.prospect_id)
    store.inbox.add_event(
        event_key="msg_delivered",
        event_type="email.delivered",
        payload={"type": "email.delivered", "data": {"email_id": email["id"]}},
        prospect_id=first.prospect_id,
        touch_id=touch.touch_id,
        provider_email_id=email["id"],
    )
    store.close()
    processed = _gtm(home, "inbox", "process")
    assert processed.returncode == 0, processed.stderr[-2000:]
    assert "1 event(s) processed" in processed.stdout and "awaiting_reply" in processed.stdout
    assert "0 event(s) processed" in _gtm(home, "inbox", "process").stdout  # once


def test_a_halted_sending_domain_resumes_with_a_reason(home: Path) -> None:
    store = _store(home)
    store.journal.append(
        subject="sender:mail.northwind-advisory.example",
        kind="sending_halted",
        actor="rule:policy@1",
        payload={"reason": "bounce rate 9/100 above 2.00%"},
    )
    store.close()
    assert "SENDING HALTED for mail.northwind-advisory.example" in _gtm(home, "status").stdout
    resumed = _gtm(home, "sending", "resume", "--reason", "list cleaned")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "SENDING HALTED" not in _gtm(home, "status").stdout
    store = _store(home)
    last = store.journal.entries("sender:mail.northwind-advisory.example")[-1]
    store.close()
    assert (last.kind, last.actor, last.payload["reason"]) == (
        "sending_resumed",
        "operator:cli",
        "list cleaned",
    )


def test_erase_many_from_a_file_goes_on_past_a_bad_line_and_never_echoes_it(home: Path) -> None:
    store = _store(home)
    with_contact = [p for p in store.prospects.find() if p.contact_email][:2]
    store.close()
    assert len(with_contact) == 2
    # An address nobody holds is still suppressed (erased); a prospect id that does not exist is not.
    unknown_address, unknown_id = "nobody.here@unknown-company.example", "p_" + "0" * 16
    listing = home / "erase.txt"
    lines = ["# requests of the week", with_contact[0].contact_email, "", unknown_id]
    lines += [with_contact[1].id, unknown_address]
    listing.write_text("\n".join(str(line) for line in lines) + "\n", encoding="utf-8")
    done = _gtm(home, "erase", "--file", str(listing), GTM_PROGRESS="always")
    assert done.returncode == 1  # one line could not be erased: said, not hidden
    assert "erased 3 of 4 line(s) of erase.txt; 1 not erased" in done.stdout
    assert "line 4 not erased" in done.stderr and unknown_address not in done.stderr + done.stdout
    assert "people erased" in done.stderr and "4/4" in done.stderr  # the bar ran to the end
    store = _store(home)
    for erased in with_contact:
        after = store.prospects.get(erased.id)
        assert after is not None and after.contact_email is None
    store.close()
    assert _gtm(home, "erase", "--file", str(home / "missing.txt")).returncode == 2
    assert "give one address" in _gtm(home, "erase").stderr


def test_calls_held_after_a_lost_batch_create_are_listed_and_queued_again_by_the_operator(home: Path) -> None:
    from gtm_pipeline.store.skill_batches import QUEUED, SUBMIT_UNKNOWN

    store = _store(home)
    items = store.skill_batches
    for n in range(2):
        items.enqueue(
            custom_id=f"sk_held{n}",
            prospect_id="p_held",
            subject="p_held",
            skill="draft-first-touch",
            skill_version="1.0.0",
            code_version="draft-first-touch@1.0.0+abcdef12",
            group="writing-copilot",
            provider="polish",
            input_hash=str(n) * 64,
            request={"inputs": {}},
        )
    claimed = items.claim_queued("polish", "pass-a", limit=5)
    items.mark_submit_unknown([c.id for c in claimed], "pass-a", "polish: timed out")
    store.close()
    status = _gtm(home, "batches", "status", "--json")
    assert status.returncode == 0, status.stderr[-2000:]
    told = json.loads(status.stdout)
    assert told["counts"] == {SUBMIT_UNKNOWN: 2} and {h["why"] for h in told["held"]} == {"polish: timed out"}
    first = told["held"][0]["id"]
    assert _gtm(home, "batches", "requeue").returncode == 2  # names nothing: refused, nothing moves
    done = _gtm(home, "batches", "requeue", str(first))
    assert done.returncode == 0 and "queued again: 1 of 1" in done.stdout
    assert _gtm(home, "batches", "requeue", "--all-held").returncode == 0
    store = _store(home)
    assert store.skill_batches.counts() == {QUEUED: 2}
    entries = store.journal.entries("skill_batches")
    store.close()
    assert [e.payload["queued"] for e in entries] == [1, 1] and {e.actor for e in entries} == {"operator:cli"}

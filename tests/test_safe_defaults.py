"""Safe by default: sending starts off and is switched on explicitly (journaled with who), a
rehearsal never changes the operator's data, and classifying a message writes nothing unless asked."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from gtm_pipeline.config import STARTER, load_settings
from gtm_pipeline.defs.outreach.sending import send_every_15_minutes
from gtm_pipeline.defs.resources import gtm_resource
from gtm_pipeline.outreach.resend_client import ResendClient
from gtm_pipeline.outreach.sender import run_sending
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.store import Store
from gtm_pipeline.twins.resend_twin import ResendTwin
from tests.conftest import REPO
from tests.helpers import run_all

MAIL = REPO / "tests" / "fixtures" / "mail" / "sisimai"


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
    """One `gtm demo` for the module; each test works on its own copy of it."""
    home = tmp_path_factory.mktemp("demo") / "home"
    done = _gtm(home, "demo")
    assert done.returncode == 0, done.stderr[-2000:]
    return home


@pytest.fixture
def home(demo_home: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "home"
    shutil.copytree(demo_home, copy)
    return copy


def _files(root: Path) -> dict[str, str]:
    """Every file's hash, but SQLite's -shm (a shared-memory index any reader of a WAL database
    creates) and -wal (checked empty: nothing was written) beside the store."""
    wal = root / "gtm.sqlite-wal"
    assert not wal.exists() or wal.stat().st_size == 0, "something was written to the store"
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(("-shm", "-wal"))
    }


# ---------------------------------------------------------------- sending starts off


def test_nothing_is_sent_until_sending_is_switched_on(services: Services) -> None:
    import datetime as dt

    import resend

    run_all(services)
    for item in services.store.reviews.pending():
        if item.kind == "draft":
            services.store.reviews.decide(item.id, approve=True, actor="operator:test", reason="ok")
    ledger = services.store.ledger
    assert not ledger.sending_on() and ledger.sending_switch() is None
    monday = dt.datetime(2026, 11, 23, 10, tzinfo=dt.UTC)  # inside every recipient's window
    with ResendTwin() as twin:
        saved, resend.api_key = resend.api_key, twin.api_key
        client = ResendClient(api_url=twin.url)
        try:
            run_sending(services.store, services.sending, client, monday)
            assert twin.emails == {}  # touches are scheduled, none is sent
            ledger.switch_sending(True, actor="operator:ana", reason="domain warmed", schedule="running")
            entry = ledger.sending_switch()
            assert entry is not None and entry.actor == "operator:ana"
            assert entry.payload["reason"] == "domain warmed"
            sent = [
                r
                for r in run_sending(services.store, services.sending, client, monday)
                if r.outcome == "sent"
            ]
            assert sent and len(twin.emails) == len(sent)
            ledger.switch_sending(False, actor="operator:ana", reason="pause", schedule="stopped")
            later = monday + dt.timedelta(days=3)
            assert [
                r for r in run_sending(services.store, services.sending, client, later) if r.outcome == "sent"
            ] == []
            assert len(twin.emails) == len(sent)
        finally:
            resend.api_key = saved


def _tick(instance: dg.DagsterInstance) -> dg.RunRequest | dg.SkipReason:
    with dg.build_schedule_context(instance=instance, resources={"gtm": gtm_resource()}) as context:
        result = send_every_15_minutes(context)
    assert isinstance(result, dg.RunRequest | dg.SkipReason)
    return result


def test_the_send_schedule_starts_stopped_and_a_tick_never_switches_sending_on(gtm_home: Path) -> None:
    assert send_every_15_minutes.default_status is dg.DefaultScheduleStatus.STOPPED
    store = Store.open(load_settings().paths.database_url)
    ledger = store.ledger
    with dg.DagsterInstance.ephemeral() as instance:
        # Starting (or previewing, or testing) the schedule is not switching sending on.
        skipped = _tick(instance)
        assert isinstance(skipped, dg.SkipReason) and "never switched on" in str(skipped.skip_message)
        assert "gtm sending start" in str(skipped.skip_message)
        assert store.journal.entries("sending") == []  # an evaluation changed nothing

        # From the Dagster UI, the switch is a job launched with who and why.
        launched = _job("sending_switch_job").execute_in_process(
            instance=instance,
            run_config={
                "ops": {"switch_sending": {"config": {"on": True, "operator": "ana", "reason": "warm"}}}
            },
            resources={"gtm": gtm_resource()},
        )
        assert launched.success
        switch = ledger.sending_switch()
        assert (
            switch is not None and switch.kind == "sending_switched_on" and switch.actor == "dagster-ui:ana"
        )
        assert switch.payload["reason"].startswith("warm (run ")
        assert isinstance(_tick(instance), dg.RunRequest)

        ledger.switch_sending(False, actor="operator:cli", reason="pause", schedule="stop requested")
        assert isinstance(_tick(instance), dg.SkipReason)
        nameless = _job("sending_switch_job").execute_in_process(
            instance=instance,
            run_config={"ops": {"switch_sending": {"config": {"on": True, "operator": " ", "reason": "x"}}}},
            resources={"gtm": gtm_resource()},
            raise_on_error=False,
        )
        assert not nameless.success and not ledger.sending_on()  # an anonymous switch is refused
    store.close()


def _job(name: str) -> dg.JobDefinition:
    from gtm_pipeline.definitions import defs

    definitions = defs() if not isinstance(defs, dg.Definitions) else defs
    return definitions.resolve_job_def(name)


def test_a_stop_during_a_send_pass_stops_the_very_next_email(services: Services) -> None:
    import datetime as dt

    import resend

    run_all(services)
    for item in services.store.reviews.pending():
        if item.kind == "draft":
            services.store.reviews.decide(item.id, approve=True, actor="operator:test", reason="ok")
    ledger = services.store.ledger
    ledger.switch_sending(True, actor="operator:ana", reason="go", schedule="running")
    monday = dt.datetime(2026, 11, 23, 10, tzinfo=dt.UTC)

    class StopAfterOne(ResendClient):
        def send(self, params: dict[str, object], idempotency_key: str) -> str:
            email_id = super().send(params, idempotency_key)
            ledger.switch_sending(False, actor="operator:bo", reason="stop!", schedule="stop requested")
            return email_id

    with ResendTwin() as twin:
        saved, resend.api_key = resend.api_key, twin.api_key
        try:
            reports = run_sending(services.store, services.sending, StopAfterOne(api_url=twin.url), monday)
        finally:
            resend.api_key = saved
    assert [r.outcome for r in reports].count("sent") == 1 and len(twin.emails) == 1


def test_sending_start_and_stop_switch_the_journal_and_the_dagster_schedule(home: Path) -> None:
    started = _gtm(home, "sending", "start", "--reason", "warm-up done")
    assert started.returncode == 0, started.stderr[-2000:]
    assert "sending is ON (schedule running)" in started.stdout
    assert _stored_schedule(home) == "RUNNING"  # what Dagster's daemon will find for this location
    status = _gtm(home, "status")
    assert "Sending: ON since" in status.stdout and "operator:cli" in status.stdout
    stopped = _gtm(home, "sending", "stop")
    assert stopped.returncode == 0, stopped.stderr[-2000:]
    assert _stored_schedule(home) == "STOPPED"
    assert "Sending: off since" in _gtm(home, "status").stdout
    store = Store.open(f"sqlite:///{home / 'gtm.sqlite'}")
    kinds = [(e.kind, e.actor, e.payload["schedule"]) for e in store.journal.entries("sending")]
    store.close()
    assert kinds[0] == ("sending_switched_on", "operator:cli", "running")
    assert kinds[-1] == ("sending_switched_off", "operator:cli", "stop requested")  # off before the stop
    assert "sending is off (schedule stopped)" in stopped.stdout


def _stored_schedule(home: Path) -> str:
    """The send schedule's status in the instance's schedule storage, for the location `gtm ui` serves."""
    from gtm_pipeline.dagster_control import LOCATION_NAME

    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        (state,) = [
            s
            for s in instance.all_instigator_state()
            if s.name == "send_every_15_minutes"
            and s.origin.repository_origin.code_location_origin.location_name == LOCATION_NAME
        ]
        return str(state.status.value)


def test_a_manual_send_pass_is_refused_while_sending_is_off(home: Path) -> None:
    refused = _gtm(home, "send", RESEND_API_KEY="re_test_twin_key_not_used")
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1].startswith("gtm: sending is switched off")
    assert "Traceback" not in refused.stderr


# ---------------------------------------------------------------- the rehearsal works on a copy


def test_a_rehearsal_leaves_the_operators_store_byte_identical(home: Path, tmp_path: Path) -> None:
    before = _files(home)
    store = Store.open_read_only(f"sqlite:///{home / 'gtm.sqlite'}")
    digest = store.content_digest()
    store.close()
    target = tmp_path / "rehearsal"
    done = _gtm(home, "rehearse", "--home", str(target), "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["home"] == str(target.resolve()) and report["behaviours"]
    assert set(report["states"].values()) - {"approved", "scheduled"}  # it really ran the campaign
    assert _files(home) == before  # every file of the operator's home, byte for byte
    assert (target / "gtm.sqlite").is_file()

    # the rehearsal's approve-all is in its copy, and even there it is no graduation evidence
    from gtm_pipeline.console.graduation import skill_stats

    copy = Store.open(f"sqlite:///{target / 'gtm.sqlite'}")
    assert copy.content_digest() != digest
    assert any(r["decided_by"] == "rehearsal:operator" for r in _decisions(copy))
    assert all(s.reviews == 0 for s in skill_stats(copy))
    copy.close()
    again = _gtm(home, "rehearse", "--home", str(target))
    assert again.returncode == 2 and "not an empty folder" in again.stderr


def test_a_rehearsal_in_a_temporary_folder_leaves_no_copy_of_personal_data_behind(
    home: Path, tmp_path: Path
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    done = _gtm(home, "rehearse", "--json", TMPDIR=str(scratch))
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["home"] is None and report["behaviours"]
    assert list(scratch.iterdir()) == []  # the copy is gone (--keep keeps it)


def _decisions(store: Store) -> list[dict[str, object]]:
    import sqlalchemy as sa

    from gtm_pipeline.store import schema as t

    with store.engine.connect() as c:
        return [dict(r._mapping) for r in c.execute(sa.select(t.review_queue))]


# ---------------------------------------------------------------- classify reads and prints


def test_classify_writes_nothing_unless_asked_to_record(home: Path, tmp_path: Path) -> None:
    reply = tmp_path / "reply.eml"
    reply.write_text(
        "From: Priya <priya@medibridge-health.example>\nTo: replies@inbound.northwind-advisory.example\n"
        "Subject: Re: audit trails\nDate: Tue, 24 Nov 2026 10:00:00 +0000\nMessage-ID: <r1@x.example>\n\n"
        "Thanks, this is timely for us. Happy to set up a call next week.\n"
    )

    def digest() -> str:
        store = Store.open_read_only(f"sqlite:///{home / 'gtm.sqlite'}")
        try:
            return store.content_digest()
        finally:
            store.close()

    before = digest()
    printed = _gtm(home, "classify", str(reply), "--json")
    assert printed.returncode == 0, printed.stderr[-2000:]
    assert json.loads(printed.stdout)["category"] == "interested"
    assert digest() == before
    bounce = _gtm(home, "classify", str(MAIL / "rfc3464-01.eml"))
    assert bounce.returncode == 0 and bounce.stdout.startswith("bounce")
    assert digest() == before
    recorded = _gtm(home, "classify", str(reply), "--record")
    assert recorded.returncode == 0, recorded.stderr[-2000:]
    assert digest() != before


# ---------------------------------------------------------------- errors are one line


@pytest.fixture
def broken_workspace(tmp_path: Path) -> Iterator[Path]:
    from gtm_pipeline.config.workspace import init_workspace

    root = tmp_path / "ws"
    init_workspace(root)
    (root / "hypotheses" / "broken.md").write_text("---\ntitle: [unclosed\n---\nprose\n")
    yield root


def test_a_cli_error_is_one_line_with_what_to_do(home: Path, tmp_path: Path, broken_workspace: Path) -> None:
    cases = [
        (_gtm(home, "classify", str(tmp_path / "missing.eml")), "no such file"),
        (_gtm(home, "review", "approve", "9999"), "no review item #9999 (gtm status"),
        (_gtm(home, "erase", "p_0000000000000000dead"), "no prospect p_0000000000000000dead"),
        (_gtm(home, "rights", "complete", "77", "--outcome", "x"), "no open rights request #77"),
        (_gtm(home, "dry-run", "--at", "next week"), "not a time"),
        (
            _gtm(home, "status", GTM_MAILBOX_DAILY_CAP="lots"),
            "GTM_MAILBOX_DAILY_CAP: sending.mailbox_daily_cap",
        ),
        (_gtm(home, "--workspace", str(broken_workspace), "demo"), "broken.md"),
    ]
    for result, expected in cases:
        assert result.returncode != 0, (expected, result.stdout)
        assert "Traceback" not in result.stderr, result.stderr
        last = [line for line in result.stderr.splitlines() if line.strip()][-1]
        assert expected in last, (expected, result.stderr)


def test_outside_a_workspace_every_command_says_so_first(home: Path) -> None:
    status = _gtm(home, "status")
    assert status.stderr.splitlines()[0].startswith("no gtm.toml here or above: demo defaults")
    assert str(STARTER) not in status.stdout

"""The README's run path: ``gtm demo`` twice on a fresh GTM_HOME, then ``gtm status``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from gtm_pipeline.sources.corpus import SampleCorpus
from gtm_pipeline.store import Store
from tests.conftest import REPO, STARTER
from tests.corpus import expected


def _gtm(home: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "GTM_DATABASE_URL")}
    env.update(GTM_HOME=str(home), **extra)
    return subprocess.run(
        [sys.executable, "-m", "gtm_pipeline.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_demo_twice_gives_the_same_prospects_and_keeps_personal_data_out_of_dagster(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = _gtm(home, "demo", GTM_PROGRESS="always")
    assert first.returncode == 0, first.stderr[-3000:]
    corpus = expected()  # what the sample corpus was built to show (tests/corpus.py)
    # The bar (stderr, so stdout stays the summary) learns the total after discovery and ends full.
    done = f"{corpus.prospects}/{corpus.prospects}"
    assert "prospects researched and drafted" in first.stderr and done in first.stderr
    assert "prospects researched and drafted" not in first.stdout
    assert f"prospects found     {corpus.prospects}" in first.stdout
    assert f"waiting for review  {corpus.qualified}" in first.stdout
    assert f"dead-lettered       {corpus.dead_lettered}" in first.stdout
    assert (home / "dagster" / "dagster.yaml").is_file()  # Dagster's instance lives under GTM_HOME

    store = Store.open(f"sqlite:///{home / 'gtm.sqlite'}")
    ids_before, counts_before = [p.id for p in store.prospects.find()], store.table_counts()
    store.close()

    second = _gtm(home, "demo")
    assert second.returncode == 0, second.stderr[-3000:]
    store = Store.open(f"sqlite:///{home / 'gtm.sqlite'}")
    assert [p.id for p in store.prospects.find()] == ids_before
    assert store.table_counts() == counts_before
    store.close()

    status = _gtm(home, "status", "--json")
    assert status.returncode == 0
    data = json.loads(status.stdout)
    assert data["summary"]["by_state"] == corpus.by_state
    assert len(data["waiting"]["reviews"]) == corpus.qualified
    assert len(data["waiting"]["dead_letters"]) == corpus.dead_lettered

    # Nothing Dagster stored (event log, run storage, compute logs) names a contact.
    personal = []
    for candidate in SampleCorpus(STARTER / "corpus").candidates():
        if candidate.contact:
            personal += [candidate.contact.email.encode(), candidate.contact.name.encode()]
    for path in (home / "dagster").rglob("*"):
        if path.is_file():
            blob = path.read_bytes()
            leaked = [p for p in personal if p in blob]
            assert not leaked, f"{path} contains {leaked}"
    text_status = _gtm(home, "status")
    assert f"Waiting for review: {corpus.qualified}" in text_status.stdout
    assert not any(p.decode() in text_status.stdout for p in personal)
    # Each review is shown with its company's name beside the id the other commands take.
    store = Store.open(f"sqlite:///{home / 'gtm.sqlite'}")
    for item in data["waiting"]["reviews"]:
        company = store.prospects.get(item["prospect_id"]).company_name  # type: ignore[union-attr]
        assert item["company"] == company
        assert f"{company} ({item['prospect_id']})" in text_status.stdout
    store.close()


def _digest_files(root: Path) -> dict[str, str]:
    import hashlib

    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(("-wal", "-shm"))
    }


def test_dry_run_replay_and_erase_on_the_demo_data(tmp_path: Path) -> None:
    import sqlite3

    from tests.test_privacy import personal_forms, scan

    home = tmp_path / "home"
    assert _gtm(home, "demo").returncode == 0

    store = Store.open(f"sqlite:///{home / 'gtm.sqlite'}")
    content_before = store.content_digest()
    store.close()
    files_before = _digest_files(home)
    # Relative to now, so it reads the same on any date: past the 365 days of retention, all are due.
    dry = _gtm(home, "dry-run", "--at", "+400d")
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert f"{expected().prospects} prospect(s) with a rule due; nothing was changed" in dry.stdout
    assert dry.stdout.count("erase (retention") == expected().prospects
    early = _gtm(home, "dry-run", "--at", "+300d")
    assert "erase (retention" not in early.stdout
    planned = json.loads(_gtm(home, "dry-run", "--at", "+400d", "--json").stdout)
    assert len(planned["planned"]) == expected().prospects and planned["changed"] == 0
    assert all(item["retention"] and item["prospect_id"].startswith("p_") for item in planned["planned"])
    store = Store.open(f"sqlite:///{home / 'gtm.sqlite'}")
    assert store.content_digest() == content_before  # the store is unchanged, row for row
    store.close()
    assert _digest_files(home) == files_before  # and so is every file: the store, Dagster's storage, logs

    assert _gtm(home, "replay", "--check").returncode == 0
    with sqlite3.connect(home / "gtm.sqlite") as db:
        victim = db.execute(
            "SELECT id FROM prospects WHERE state = 'awaiting_review' ORDER BY id"
        ).fetchone()[0]
        db.execute("UPDATE prospects SET state = 'approved' WHERE id = ?", (victim,))
    broken = _gtm(home, "replay", "--check")
    assert broken.returncode == 1 and f"MISMATCH {victim}" in broken.stdout
    broken_json = _gtm(home, "replay", "--check", "--json")
    report = json.loads(broken_json.stdout)
    assert broken_json.returncode == 1 and report["ok"] is False
    assert [p["prospect_id"] for p in report["problems"]] == [victim]
    with sqlite3.connect(home / "gtm.sqlite") as db:
        db.execute("UPDATE prospects SET state = 'awaiting_review' WHERE id = ?", (victim,))

    email, name = "priya.raman@medibridge-health.example", "Priya Raman"
    erased = _gtm(home, "erase", email, "--reason", "data principal request")
    assert erased.returncode == 0, erased.stderr[-2000:]
    assert name not in erased.stdout and email not in erased.stdout
    assert scan(home, personal_forms(email, name)) == []
    assert _gtm(home, "replay", "--check").returncode == 0
    assert _gtm(home, "demo").returncode == 0  # the next run neither rediscovers nor refetches them
    assert scan(home, personal_forms(email, name)) == []


def test_operator_review_decisions_are_journaled_transitions(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert _gtm(home, "demo").returncode == 0
    store = Store.open(f"sqlite:///{home / 'gtm.sqlite'}")
    first, second = store.reviews.pending()[:2]
    store.close()
    assert _gtm(home, "review", "approve", str(first.id)).returncode == 0
    rejected = _gtm(home, "review", "reject", str(second.id), "--reason", "opener too generic")
    assert rejected.returncode == 0, rejected.stderr
    again = _gtm(home, "review", "approve", str(first.id))
    assert again.returncode == 2 and "not pending" in again.stderr
    store = Store.open(f"sqlite:///{home / 'gtm.sqlite'}")
    approved, back = store.prospects.get(first.prospect_id), store.prospects.get(second.prospect_id)
    assert approved is not None and approved.state.value == "approved"
    assert back is not None and back.state.value == "qualified"
    entry = store.journal.entries(second.prospect_id)[-1]
    assert entry.actor == "operator:cli" and entry.payload["rationale"] == "opener too generic"
    assert entry.payload["review_id"] == second.id
    store.close()


def test_a_dry_run_never_loads_a_provider_or_sending_client(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert _gtm(home, "demo").returncode == 0
    probe = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from gtm_pipeline.cli import app\n"
        "result = CliRunner().invoke(app, ['dry-run', '--at', '+1d'])\n"
        "assert result.exit_code == 0, result.output\n"
        "clients = ('openai', 'anthropic', 'resend', 'httpx')\n"
        "loaded = sorted(m for m in sys.modules"
        " if m.split('.')[0] in clients or m.startswith('gtm_pipeline.providers'))\n"
        "print('LOADED', loaded)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env["GTM_HOME"] = str(home)
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "LOADED []" in result.stdout

"""The README's run path: ``gtm demo`` twice on a fresh GTM_HOME, then ``gtm status``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from gtm_pipeline.pipeline.corpus import SampleCorpus
from gtm_pipeline.store.repository import Store
from tests.conftest import REPO


def _gtm(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "GTM_DATABASE_URL")}
    env["GTM_HOME"] = str(home)
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
    first = _gtm(home, "demo")
    assert first.returncode == 0, first.stderr[-3000:]
    assert "prospects found     22" in first.stdout
    assert "waiting for review  11" in first.stdout
    assert "dead-lettered       1" in first.stdout
    assert (home / "dagster" / "dagster.yaml").is_file()  # Dagster's instance lives under GTM_HOME

    store = Store.open(f"sqlite:///{home / 'gtm.sqlite'}")
    ids_before, counts_before = [p.id for p in store.list_prospects()], store.table_counts()
    store.close()

    second = _gtm(home, "demo")
    assert second.returncode == 0, second.stderr[-3000:]
    store = Store.open(f"sqlite:///{home / 'gtm.sqlite'}")
    assert [p.id for p in store.list_prospects()] == ids_before
    assert store.table_counts() == counts_before
    store.close()

    status = _gtm(home, "status", "--json")
    assert status.returncode == 0
    data = json.loads(status.stdout)
    assert data["summary"]["by_state"] == {
        "awaiting_review": 11,
        "conflict": 2,
        "not_a_fit": 8,
        "researching": 1,
    }
    assert len(data["waiting"]["reviews"]) == 11 and len(data["waiting"]["dead_letters"]) == 1

    # Nothing Dagster stored (event log, run storage, compute logs) names a contact.
    personal = []
    for candidate in SampleCorpus(REPO / "data" / "samples" / "corpus").candidates():
        if candidate.contact:
            personal += [candidate.contact.email.encode(), candidate.contact.name.encode()]
    for path in (home / "dagster").rglob("*"):
        if path.is_file():
            blob = path.read_bytes()
            leaked = [p for p in personal if p in blob]
            assert not leaked, f"{path} contains {leaked}"
    text_status = _gtm(home, "status")
    assert "Waiting for review: 11" in text_status.stdout
    assert not any(p.decode() in text_status.stdout for p in personal)

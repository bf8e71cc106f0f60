"""``gtm fetch``: what the fetcher would keep from one URL, or why it refused, leaving nothing on disk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gtm_pipeline.sources.politeness import HostSlots, SlotTimeout
from gtm_pipeline.twins.web import WebTwin

SITES = Path(__file__).parent / "fixtures" / "web"
Gtm = Callable[..., subprocess.CompletedProcess[str]]


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else b"" for p in root.rglob("*")}


@pytest.fixture
def twin() -> Iterator[WebTwin]:
    with WebTwin(SITES) as web:
        yield web


@pytest.fixture
def gtm(twin: WebTwin, tmp_path: Path) -> Gtm:
    """``gtm`` in a subprocess, its home and its temporary folder under ``tmp_path``, the twin routed."""
    (tmp_path / "home").mkdir()
    (tmp_path / "tmp").mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GTM_", "DAGSTER_"))},
        "GTM_HOME": str(tmp_path / "home"),
        "TMPDIR": str(tmp_path / "tmp"),
        "GTM_FETCH_ALLOW": twin.address,
        "GTM_FETCH_CONNECT_TO": ",".join(twin.connect_to()),
        "GTM_FETCH_PAUSE_S": "0.01",
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gtm_pipeline.cli", "fetch", *args],
            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
        )  # fmt: skip

    return run


def test_a_page_is_shown_as_it_would_be_stored_and_nothing_is_left_on_disk(
    gtm: Gtm, tmp_path: Path, twin: WebTwin
) -> None:
    shown = gtm("https://tricky.example/legacy")
    assert shown.returncode == 0, shown.stderr[-2000:]
    lines = shown.stdout.splitlines()
    assert lines[0] == "200 https://tricky.example/legacy"
    assert lines[1].startswith("robots: allowed (parsed robots.txt); text/html; sha256 ")
    assert lines[2] == "charset: cp1252 (windows-1252 fallback (header said utf-8, which does not decode))"
    assert "Café société — prix spéciaux pour les hôpitaux, déjà livrés à Genève et à Zürich." in shown.stdout
    record = json.loads(gtm("--json", "https://acme-health.example/about").stdout)
    assert (record["status"], record["final_url"]) == (200, "https://acme-health.example/about")
    assert (record["charset"], record["charset_source"], record["title"]) == ("utf-8", "header", "About us")
    assert "founded in 2014" in record["text"] and record["from_cache"] is False
    assert record["robots"] == "allowed (parsed robots.txt)"
    assert [h.path for h in twin.hits("acme-health.example")] == ["/robots.txt", "/about"]
    # no document, no HTTP cache, no lock file under home; no private lock folder left in TMPDIR
    assert _tree(tmp_path / "home") == {}
    assert _tree(tmp_path / "tmp") == {}


def test_a_robots_disallowed_url_is_refused_with_its_reason(gtm: Gtm, tmp_path: Path, twin: WebTwin) -> None:
    refused = gtm("https://acme-health.example/private/admin")
    assert refused.returncode == 1
    assert refused.stdout.strip() == (
        "refused: robots (disallowed by parsed robots.txt) at https://acme-health.example/private/admin"
    )
    as_json = gtm("--json", "https://blocked.example/")
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout) == {
        "url": "https://blocked.example/",
        "refused": "robots",
        "detail": "disallowed by parsed robots.txt",
        "at_url": "https://blocked.example/",
    }
    assert "/private/admin" not in [h.path for h in twin.hits("acme-health.example")]
    assert [h.path for h in twin.hits("blocked.example")] == ["/robots.txt"]
    assert _tree(tmp_path / "home") == {} and _tree(tmp_path / "tmp") == {}


def test_a_host_the_pipeline_has_a_lock_for_is_queued_on_that_lock(gtm: Gtm, tmp_path: Path) -> None:
    hosts = tmp_path / "home" / "fetch" / "hosts"
    pipeline = HostSlots(hosts)  # the pipeline made the host's lock file on an earlier crawl
    with pipeline.slot("acme-health.example", 0.0):
        pass
    before = _tree(tmp_path / "home")
    assert gtm("https://acme-health.example/about").returncode == 0
    after = _tree(tmp_path / "home")
    assert set(after) == set(before)  # no new file
    (lock,) = [name for name in after if name.endswith(".lock")]
    assert after[lock] != before[lock]  # the command took the shared slot and stamped its request


def test_slots_that_create_nothing_join_an_existing_lock_and_keep_the_rest_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    shared = HostSlots(tmp_path / "hosts")
    joiner = HostSlots(tmp_path / "hosts", create=False)
    with (
        shared.slot("busy.example", 0.0),
        pytest.raises(SlotTimeout),  # the pipeline holds this host: the joiner waits on it
        joiner.slot("busy.example", 0.0, deadline=time.monotonic() + 0.2),
    ):
        pass
    with joiner.slot("other.example", 0.0):
        assert len(list((tmp_path / "tmp").iterdir())) == 1  # its private lock folder
    assert len(list((tmp_path / "hosts").iterdir())) == 1  # busy.example's, made by the pipeline
    joiner.close()
    assert list((tmp_path / "tmp").iterdir()) == []
    nowhere = HostSlots(tmp_path / "absent", create=False)
    with nowhere.slot("a.example", 0.0):
        pass
    nowhere.close()
    assert not (tmp_path / "absent").exists()

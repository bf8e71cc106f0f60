"""`gtm ui`: `dg dev` on the workspace's instance, stopped with all its children on SIGTERM, and the
console's links into the Dagster UI following the port it was started on."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from gtm_pipeline.config import load_settings
from gtm_pipeline.console import dagster_link
from tests.conftest import REPO


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children() -> dict[int, int]:
    """pid -> parent pid of every process."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            found[int(entry.name)] = int(fields[1])
    return found


def _descendants(root: int) -> set[int]:
    parents = _children()
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_ui_serves_dagster_and_stops_with_every_child_on_sigterm(gtm_home: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    ui = subprocess.Popen(
        [sys.executable, "-m", "gtm_pipeline.cli", "ui", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert ui.poll() is None, ui.stdout.read() if ui.stdout else ""
            time.sleep(1)
        else:
            raise AssertionError("the Dagster UI never answered")
        record = gtm_home / "dagster" / "gtm-ui.json"
        assert json.loads(record.read_text())["url"] == f"http://127.0.0.1:{port}"
        assert dagster_link.url(load_settings()) == f"http://127.0.0.1:{port}"  # where console links point
        children = _descendants(ui.pid)
        assert len(children) >= 2  # dg dev, the webserver, the daemon, a code server
        ui.send_signal(signal.SIGTERM)
        assert ui.wait(timeout=90) == 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(_alive(pid) for pid in children):
            time.sleep(0.5)
        assert [pid for pid in children if _alive(pid)] == []
        assert not record.exists()
        assert dagster_link.url(load_settings()) == dagster_link.DEFAULT_URL
    finally:
        if ui.poll() is None:
            ui.kill()
            ui.wait()


def test_a_configured_dagster_url_wins_and_a_dead_ui_is_not_linked(gtm_home: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings()
    dagster_link.record(settings.paths.dagster_home, "http://127.0.0.1:3100")
    assert dagster_link.url(settings) == "http://127.0.0.1:3100"
    (settings.paths.dagster_home / "gtm-ui.json").write_text(
        json.dumps({"url": "http://x:1", "pid": 2**22 + 7})
    )
    assert dagster_link.url(settings) == dagster_link.DEFAULT_URL  # its process is gone
    monkeypatch.setenv("GTM_DAGSTER_URL", "https://dagster.internal.example/")
    assert dagster_link.url(load_settings()) == "https://dagster.internal.example"

"""Several receiver processes on one store (SQLite, or Postgres under GTM_TEST_POSTGRES) at once.

A deployment runs ``gtm serve --workers N`` (and may run a second instance beside it); Resend may
deliver the same ``svix-id`` twice at once, and two different events can name the same person at
once. Each delivery here is posted to two processes at the same instant: every event must be
stored once, every person suppressed once, every answer a 2xx, and exactly one of the two answers
to a pair may say it stored the event.
"""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from gtm_pipeline.config import load_settings
from gtm_pipeline.domain.clock import SystemClock
from gtm_pipeline.domain.ids import email_hash
from gtm_pipeline.store import Store
from gtm_pipeline.twins.resend_twin import sign
from tests.conftest import REPO

SECRET = "whsec_" + base64.b64encode(b"workers-workers-workers-workers!").decode()
PAIRS = 40  # deliveries, each posted to both servers at once
PEOPLE = 10  # fewer addresses than events: different events suppress the same person at once


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _serve(workers: int, log: Path) -> Iterator[str]:
    """``gtm serve --no-console`` in its own process(es) on this test's store, once it answers."""
    port = _free_port()
    env = {**os.environ, "RESEND_WEBHOOK_SECRET": SECRET}
    command = [sys.executable, "-m", "gtm_pipeline.cli", "serve", "--no-console", "--port", str(port)]
    with log.open("wb") as out:
        server = subprocess.Popen(
            [*command, "--workers", str(workers)], env=env, cwd=REPO, stdout=out, stderr=out
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def _complaint(n: int) -> tuple[str, dict[str, str]]:
    raw = json.dumps(
        {
            "type": "email.complained",
            "created_at": "2026-11-23T10:05:00Z",
            "data": {"email_id": f"em_{n}", "to": [f"person{n % PEOPLE}@other.example"]},
        }
    )
    ts = int(SystemClock().now().timestamp())  # Svix checks it against the wall clock
    msg_id = f"msg_pair_{n}"
    headers = {
        "svix-id": msg_id,
        "svix-timestamp": str(ts),
        "svix-signature": sign(SECRET, msg_id, ts, raw),
        "content-type": "application/json",
    }
    return raw, headers


def test_receiver_processes_at_once_store_each_event_once_and_suppress_each_person_once(
    gtm_home: Path, tmp_path: Path
) -> None:
    url = load_settings().paths.database_url
    Store.open(url).close()  # migrated before the servers start, as `gtm serve` does for its workers
    with ExitStack() as stack:
        # A two-worker `gtm serve` and a second instance beside it: three processes on one store.
        bases = [
            stack.enter_context(_serve(2, tmp_path / "workers.log")),
            stack.enter_context(_serve(1, tmp_path / "single.log")),
        ]
        answers: dict[int, list[httpx.Response]] = {n: [] for n in range(PAIRS)}
        failures: list[BaseException] = []
        barrier = threading.Barrier(2)

        def post(base: str) -> None:
            try:
                with httpx.Client(base_url=base, timeout=30) as http:
                    http.get("/healthz")  # connected before the race starts
                    for n in range(PAIRS):
                        raw, headers = _complaint(n)
                        barrier.wait(timeout=30)  # both processes get delivery n at the same instant
                        answers[n].append(http.post("/webhooks/resend", content=raw, headers=headers))
            except BaseException as exc:  # the test names it below
                failures.append(exc)
                barrier.abort()

        threads = [threading.Thread(target=post, args=(base,)) for base in bases]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
    assert not failures, failures
    for n, pair in answers.items():
        assert [a.status_code for a in pair] == [200, 200], (n, [a.text for a in pair])
        assert sorted(a.json()["stored"] for a in pair) == [False, True], n
        assert pair[0].json()["event_id"] == pair[1].json()["event_id"], n
        assert {a.json()["suppressed"] for a in pair} == {"complaint"}
    store = Store.open(url)
    try:
        outcomes = store.inbox.outcomes()
        suppressions = store.privacy.suppressions()
    finally:
        store.close()
    assert len(outcomes) == PAIRS  # one row per svix-id
    assert sorted(s["identity"] for s in suppressions) == sorted(
        email_hash(f"person{i}@other.example") for i in range(PEOPLE)
    )
    assert {s["reason"] for s in suppressions} == {"complaint"}


def test_gtm_serve_workers_runs_that_many_processes(gtm_home: Path, tmp_path: Path) -> None:
    """``--workers 3`` really serves from three processes, each started in full."""
    Store.open(load_settings().paths.database_url).close()
    log = tmp_path / "serve.log"
    with _serve(3, log) as base:
        deadline = time.monotonic() + 60
        while log.read_text().count("Application startup complete") < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
    pids = set(re.findall(r"Started server process \[(\d+)\]", log.read_text()))
    assert len(pids) == 3, log.read_text()[-2000:]

"""Benchmark: load the webhook receiver (``gtm serve``, its own process) against a minimal baseline.

Two servers are loaded in one run, one after the other, with the same signed Resend events: the
minimal Starlette + SQLite receiver of ``bench/webhook_baseline.py`` (same Svix verification, one
insert, uvicorn in its own process) and ``gtm serve --no-console`` (bounded body, typed event,
correlation, suppressions, one transaction per batch of waiting events; on SQLite committed on the
event loop, the webhook handed to its endpoint ahead of FastAPI's routing and middleware). The
``server CPU`` line (per event, from /proc) moves far less with the machine's other work than
events/s does: compare it too. ``--clients`` keep-alive connections post as fast as
answers come (saturation); a share of posts repeat an earlier ``svix-id`` (answered fast, stored
once). Prints events/s and p50 / p99 / max latency for each, the ratio, and checks afterwards that
the store holds each distinct event exactly once.

The load is generated with plain sockets and requests signed before the clock starts: on a
two-core machine an HTTP client library in Python costs about as much CPU per request as the
server, and the benchmark would measure itself.

``--postgres URL`` runs ``gtm serve`` on a fresh database of that server (made and dropped here)
and ``--workers N`` runs it as N uvicorn worker processes; the baseline stays on SQLite.

    python bench/webhooks.py --events 3000 --clients 8
    python bench/webhooks.py --events 20000 --clients 32 --workers 3 \\
        --postgres postgresql+psycopg://postgres@127.0.0.1:55511
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy as sa

from gtm_pipeline.domain.clock import SystemClock
from gtm_pipeline.twins.resend_twin import sign

REPO = Path(__file__).resolve().parent.parent
KINDS = ("email.sent", "email.delivered", "email.delivered", "email.opened", "email.delivery_delayed")


@dataclass(frozen=True)
class Result:
    name: str
    latencies: list[float]
    statuses: dict[int, int]
    wall: float
    stored: int
    cpu: float  # the server's CPU seconds during the load

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.wall

    def at(self, share: float) -> float:
        return 1000 * self.latencies[int(share * (len(self.latencies) - 1))]

    def show(self, expected: int) -> None:
        print(f"{self.name}")
        print(f"  answers      {dict(sorted(self.statuses.items()))}")
        print(f"  stored rows  {self.stored} (distinct events posted: {expected})")
        print(f"  sustained    {self.rate:.0f} events/s over {self.wall:.2f} s")
        print(f"  server CPU   {1e6 * self.cpu / len(self.latencies):.0f} us per event")
        print(
            f"  latency      p50 {1000 * statistics.median(self.latencies):.1f} ms   "
            f"p99 {self.at(0.99):.1f} ms   max {1000 * self.latencies[-1]:.1f} ms"
        )


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and all its descendants so far, from /proc (Linux):
    the cost per event, which noise from other work on the machine moves far less than events/s."""
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += cpu_seconds(int(child))
    except (FileNotFoundError, ProcessLookupError):
        pass
    return total


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _event(unique: int) -> str:
    return json.dumps(
        {
            "type": KINDS[unique % len(KINDS)],
            "created_at": "2026-11-24T10:00:00Z",
            "data": {"email_id": f"em_{unique}", "to": ["x@y.example"], "tags": {}},
        }
    )


def _posts(events: int, clients: int, duplicates: float) -> list[list[int]]:
    """Each client's events by number; every ``1 / duplicates``-th post repeats the client's previous one."""
    per_client = events // clients
    repeat_every = int(1 / duplicates) if duplicates > 0 else 0
    return [
        [
            index * per_client + (n - 1 if repeat_every and n and n % repeat_every == 0 else n)
            for n in range(per_client)
        ]
        for index in range(clients)
    ]


def distinct(events: int, clients: int, duplicates: float) -> int:
    return len({unique for batch in _posts(events, clients, duplicates) for unique in batch})


def requests(secret: str, port: int, events: int, clients: int, duplicates: float) -> list[list[bytes]]:
    """Each client's HTTP/1.1 requests, signed now (Svix allows five minutes); every
    ``1 / duplicates``-th post repeats the client's previous event, same ``svix-id``, same bytes."""
    ts = int(SystemClock().now().timestamp())  # Svix: the wall clock
    batches = []
    for posts in _posts(events, clients, duplicates):
        batch = []
        for unique in posts:
            msg_id, body = f"msg_{unique}", _event(unique)
            head = (
                f"POST /webhooks/resend HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n"
                f"content-type: application/json\r\ncontent-length: {len(body)}\r\n"
                f"svix-id: {msg_id}\r\nsvix-timestamp: {ts}\r\n"
                f"svix-signature: {sign(secret, msg_id, ts, body)}\r\n\r\n"
            )
            batch.append(head.encode() + body.encode())
        batches.append(batch)
    return batches


def _exchange(sock: socket.socket, request: bytes, buffer: bytearray) -> int:
    """Send one request on a keep-alive connection and read its whole answer; its status."""
    sock.sendall(request)
    while (end := buffer.find(b"\r\n\r\n")) < 0:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        buffer += chunk
    head = bytes(buffer[:end]).decode("latin-1").split("\r\n")
    length = next(int(line.split(":", 1)[1]) for line in head if line.lower().startswith("content-length:"))
    while len(buffer) < end + 4 + length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        buffer += chunk
    del buffer[: end + 4 + length]
    return int(head[0].split()[1])


def _split(request: bytes) -> tuple[dict[str, str], bytes]:
    """A prepared request as headers and body, for an HTTP client library to send."""
    head, body = request.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")[1:]
    headers = dict(line.split(": ", 1) for line in lines)
    return {k: v for k, v in headers.items() if k not in ("host", "content-length")}, body


def load(
    name: str, port: int, batches: list[list[bytes]], loader: str = "socket"
) -> tuple[list[float], dict[int, int], float]:
    """Post every batch at once, one keep-alive connection per batch: plain sockets, or httpx
    (``loader="httpx"``: how the issue first measured, when the client's own CPU was the limit)."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def client(batch: list[bytes]) -> None:
        mine: list[float] = []
        counts: dict[int, int] = {}
        if loader == "httpx":
            prepared = [_split(request) for request in batch]
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
                for headers, body in prepared:
                    started = time.perf_counter()
                    status = http.post("/webhooks/resend", content=body, headers=headers).status_code
                    mine.append(time.perf_counter() - started)
                    counts[status] = counts.get(status, 0) + 1
        else:
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                buffer = bytearray()
                for request in batch:
                    started = time.perf_counter()
                    status = _exchange(sock, request, buffer)
                    mine.append(time.perf_counter() - started)
                    counts[status] = counts.get(status, 0) + 1
        with lock:
            latencies.extend(mine)
            for status, count in counts.items():
                statuses[status] = statuses.get(status, 0) + count

    threads = [
        threading.Thread(target=client, args=(batch,), name=f"{name}-{i}") for i, batch in enumerate(batches)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    latencies.sort()
    return latencies, statuses, wall


@contextmanager
def serving(command: list[str], env: dict[str, str], port: int) -> Iterator[int]:
    """A server process until the block ends, once its ``/healthz`` answers."""
    # a file, not a pipe: a chatty server never blocks on it
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=log)
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    err = log.read().decode(errors="replace")[-2000:]
                    raise SystemExit(f"{command[2:4]} did not start:\n{err}")
                time.sleep(0.2)
            yield server.pid
        finally:
            server.terminate()
            server.wait(timeout=30)


@contextmanager
def postgres_database(server: str) -> Iterator[str]:
    """A fresh database on ``server`` for this run, dropped afterwards."""
    name = f"gtm_bench_{secrets.token_hex(4)}"
    admin = sa.create_engine(f"{server.rstrip('/')}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{server.rstrip('/')}/{name}"
    finally:
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def durability(url: str) -> str:
    """What a 2xx promises on this Postgres server: on disk only with fsync and synchronous commit on
    (a throwaway test server turns both off, and its figures say "committed", not "durable")."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as c:
            fsync = c.execute(sa.text("SHOW fsync")).scalar_one()
            commit = c.execute(sa.text("SHOW synchronous_commit")).scalar_one()
    finally:
        engine.dispose()
    promise = "durable" if fsync == "on" and commit != "off" else "committed, not durable"
    return f"{promise}: fsync {fsync}, synchronous_commit {commit}"


def count_rows(url: str, table: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as c:
            return int(c.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duplicates", type=float, default=0.1, help="share of posts that repeat a svix-id")
    parser.add_argument("--workers", type=int, default=1, help="gtm serve's uvicorn worker processes")
    parser.add_argument("--postgres", help="a Postgres server URL: gtm serve stores there (a fresh database)")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument(
        "--loader",
        choices=("socket", "httpx"),
        default="socket",
        help="the clients: plain sockets (light), or httpx (as first measured; the client is then the limit)",
    )
    args = parser.parse_args()
    secret = "whsec_" + base64.b64encode(os.urandom(24)).decode()
    expected = distinct(args.events, args.clients, args.duplicates)
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "GTM_HOME": home, "RESEND_WEBHOOK_SECRET": secret}
        env.pop("RESEND_API_KEY", None)
        env.pop("GTM_DATABASE_URL", None)
        if not args.skip_baseline:
            port = _free_port()
            database = f"{home}/baseline.sqlite"
            command = [sys.executable, "-m", "uvicorn", "--app-dir", "bench", "webhook_baseline:app"]
            command += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
            with serving(command, {**env, "BASELINE_DB": database}, port) as pid:
                posts = requests(secret, port, args.events, args.clients, args.duplicates)
                before = cpu_seconds(pid)
                latencies, statuses, wall = load("baseline", port, posts, args.loader)
                cpu = cpu_seconds(pid) - before
            stored = count_rows(f"sqlite:///{database}", "events")
            results.append(
                Result("baseline: Starlette + one SQLite insert", latencies, statuses, wall, stored, cpu)
            )
        with postgres_database(args.postgres) if args.postgres else _sqlite(home) as url:
            port = _free_port()
            command = [sys.executable, "-m", "gtm_pipeline.cli", "serve", "--no-console", "--port", str(port)]
            command += ["--workers", str(args.workers)]
            with serving(command, {**env, "GTM_DATABASE_URL": url}, port) as pid:
                posts = requests(secret, port, args.events, args.clients, args.duplicates)
                before = cpu_seconds(pid)
                latencies, statuses, wall = load("gtm", port, posts, args.loader)
                cpu = cpu_seconds(pid) - before
            stored = count_rows(url, "inbox")
            backend = f"Postgres, {durability(url)}" if args.postgres else "SQLite"
            label = f"gtm serve ({backend}, {args.workers} worker{'s' if args.workers > 1 else ''})"
            results.append(Result(label, latencies, statuses, wall, stored, cpu))
    print(
        f"{args.events} posts per server, {args.clients} keep-alive {args.loader} clients, "
        f"~{args.duplicates:.0%} repeats"
    )
    print("(a shared, noisy two-core machine: figures vary run to run)")
    for result in results:
        result.show(expected)
    if len(results) == 2:
        base, gtm = results
        print(
            f"ratio gtm / baseline  {gtm.rate / base.rate:.2f} x events/s; "
            f"p99 {gtm.at(0.99):.1f} ms vs {base.at(0.99):.1f} ms"
        )


@contextmanager
def _sqlite(home: str) -> Iterator[str]:
    yield f"sqlite:///{home}/gtm.sqlite"


if __name__ == "__main__":
    main()

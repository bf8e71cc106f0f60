"""Benchmark: load the webhook receiver (``gtm serve``, its own process) over loopback.

Signed Resend events are posted by ``--clients`` concurrent clients, each event verified,
stored once and answered; a share of them are repeats of an earlier ``svix-id`` (duplicates
must be answered fast and stored once). Prints sustained events/s and the p50 / p99 / max
latency as the sender sees it. Bounded (``--events``), loopback only. Prints; asserts nothing.

    python bench/webhooks.py --events 3000 --clients 8
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from gtm_pipeline.domain.clock import SystemClock
from gtm_pipeline.twins.resend_twin import sign

REPO = Path(__file__).resolve().parent.parent
KINDS = ("email.sent", "email.delivered", "email.delivered", "email.opened", "email.delivery_delayed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duplicates", type=float, default=0.1, help="share of posts that repeat a svix-id")
    args = parser.parse_args()
    secret = "whsec_" + base64.b64encode(os.urandom(24)).decode()
    port = _free_port()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "GTM_HOME": home, "RESEND_WEBHOOK_SECRET": secret}
        env.pop("RESEND_API_KEY", None)
        server = subprocess.Popen(
            [sys.executable, "-m", "gtm_pipeline.cli", "serve", "--port", str(port)],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("the receiver did not start")
                time.sleep(0.1)
            latencies: list[float] = []
            statuses: dict[int, int] = {}
            lock = threading.Lock()
            per_client = args.events // args.clients
            repeat_every = int(1 / args.duplicates) if args.duplicates > 0 else 0

            def client(index: int) -> None:
                with httpx.Client(base_url=base, timeout=30) as http:
                    for n in range(per_client):
                        unique = index * per_client + n
                        repeat = repeat_every and n and n % repeat_every == 0
                        msg_id = f"msg_{index}_{n - 1 if repeat else n}"
                        kind = KINDS[unique % len(KINDS)]
                        body = json.dumps(
                            {
                                "type": kind,
                                "created_at": "2026-11-24T10:00:00Z",
                                "data": {"email_id": f"em_{unique}", "to": ["x@y.example"], "tags": {}},
                            }
                        )
                        if repeat:
                            body = json.dumps(
                                {
                                    "type": KINDS[(unique - 1) % len(KINDS)],
                                    "created_at": "2026-11-24T10:00:00Z",
                                    "data": {
                                        "email_id": f"em_{unique - 1}",
                                        "to": ["x@y.example"],
                                        "tags": {},
                                    },
                                }
                            )
                        ts = int(SystemClock().now().timestamp())  # Svix: the wall clock
                        headers = {
                            "svix-id": msg_id,
                            "svix-timestamp": str(ts),
                            "svix-signature": sign(secret, msg_id, ts, body),
                            "content-type": "application/json",
                        }
                        started = time.perf_counter()
                        response = http.post("/webhooks/resend", content=body, headers=headers)
                        elapsed = time.perf_counter() - started
                        with lock:
                            latencies.append(elapsed)
                            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

            threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            wall = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(timeout=20)
    latencies.sort()
    total = len(latencies)
    print(f"events posted            {total} ({args.clients} clients, ~{args.duplicates:.0%} repeats)")
    print(f"answers                  {statuses}")
    print(f"wall time                {wall:.2f} s")
    print(f"sustained                {total / wall:.0f} events/s")
    print(f"latency p50              {1000 * statistics.median(latencies):.1f} ms")
    print(f"latency p99              {1000 * latencies[int(0.99 * (total - 1))]:.1f} ms")
    print(f"latency max              {1000 * latencies[-1]:.1f} ms")


if __name__ == "__main__":
    main()

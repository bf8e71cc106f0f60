"""A small threaded HTTP server with the twin machinery: latency, a rate limit, scripted faults.

Stdlib only (``http.server``): a twin must start in milliseconds inside a test and must not
need anything the pipeline does not already have.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULTS = (
    "rate_limit",
    "server_error",
    "overloaded",
    "unavailable",
    "timeout",
    "malformed_json",
    "truncated",
    "bad_quote",
    "unauthorized",
    "obey_injection",
    "accept_then_fail",
)


@dataclass
class TwinSettings:
    """Behaviour of a twin, changeable while it runs (tests script faults between calls)."""

    latency_s: float = 0.0
    rate_per_s: float = 0.0  # 0: no rate limit
    burst: int = 1
    timeout_sleep_s: float = 5.0
    expected_key: str | None = None
    faults: deque[str] = field(default_factory=deque)  # consumed one per request

    def script(self, *faults: str) -> None:
        unknown = [f for f in faults if f not in (*FAULTS, "ok")]
        if unknown:
            raise ValueError(f"unknown fault(s) {unknown}")
        self.faults.extend(faults)


class _TokenBucket:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.capacity = rate, max(1, burst)
        self.tokens, self.stamp = float(self.capacity), time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> float:
        """0 when a token was taken, else the seconds until one is available."""
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return 0.0
            return (1 - self.tokens) / self.rate


Route = Callable[["TwinRequest"], tuple[int, dict[str, str], bytes]]


@dataclass
class TwinRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    fault: str | None
    retry_after_s: float = 0.0

    def json(self) -> Any:
        return json.loads(self.body or b"{}")


class TwinServer:
    """Serve ``routes`` on 127.0.0.1 (an ephemeral port) in a background thread."""

    def __init__(self, routes: dict[tuple[str, str], Route], settings: TwinSettings | None = None) -> None:
        self.settings = settings or TwinSettings()
        self.routes = routes
        self.requests = 0
        self.rate_limited = 0
        self._count_lock = threading.Lock()
        self._bucket: _TokenBucket | None = None
        twin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return  # twins are quiet; requests may carry keys in headers

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, payload = twin._dispatch(self.command, self.path, dict(self.headers), body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(payload)  # the client may have given up (a timeout fault)

            do_GET = _serve
            do_POST = _serve
            do_PATCH = _serve
            do_DELETE = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> TwinServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _dispatch(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        settings = self.settings
        with self._count_lock:
            self.requests += 1
            fault = settings.faults.popleft() if settings.faults else None
            if settings.rate_per_s > 0 and self._bucket is None:
                self._bucket = _TokenBucket(settings.rate_per_s, settings.burst)
        if fault == "ok":
            fault = None
        if settings.latency_s:
            time.sleep(settings.latency_s)
        if fault == "timeout":
            time.sleep(settings.timeout_sleep_s)
        wait = self._bucket.take() if self._bucket is not None else 0.0
        if wait > 0 or fault == "rate_limit":
            with self._count_lock:
                self.rate_limited += 1
            fault = "rate_limit"
        bare = path.split("?")[0]
        route = self.routes.get((method, bare)) or self.routes.get((method, bare.rsplit("/", 1)[0] + "/*"))
        if route is None:
            return 404, {"content-type": "application/json"}, b'{"error": "not found"}'
        lowered = {k.lower(): v for k, v in headers.items()}
        return route(TwinRequest(method, path, lowered, body, fault, retry_after_s=max(wait, 0.05)))

"""A twin of the discovery APIs on loopback: one synthetic world, one port, every source's shape.

:class:`World` holds :class:`Article` s (company sites, third-party news, Hacker News stories,
EDGAR filings, job postings). :class:`DiscoveryTwin` answers, over real HTTP, in each API's own
JSON shape:

=================  ========================================  =====================================
api                request                                   reached by
=================  ========================================  =====================================
``exa``            ``POST /exa/search`` (or ``/search`` on   ``GTM_EXA_URL=http://127.0.0.1:P/exa``
                   host ``api.exa.ai``)
``tavily``         ``POST /tavily/search`` (or ``/search``   ``GTM_TAVILY_URL=…/tavily``
                   on host ``api.tavily.com``)
``gdelt``          ``GET /api/v2/doc/doc``                   ``api.gdeltproject.org`` routed here
``hn``             ``GET /api/v1/search_by_date``            ``hn.algolia.com`` routed here
``edgar``          ``GET /LATEST/search-index``              ``efts.sec.gov`` routed here
``greenhouse``     ``GET /v1/boards/{token}/jobs``           ``boards-api.greenhouse.io`` routed
``lever``          ``GET /v0/postings/{token}?mode=json``    ``api.lever.co`` routed here
``ashby``          ``GET /posting-api/job-board/{token}``    ``api.ashbyhq.com`` routed here
=================  ========================================  =====================================

The API is told apart by the request's path (the SDKs' base URLs carry a ``/exa`` or ``/tavily``
prefix; the keyless APIs' paths are distinct), so the keyless sources reach the twin either
through ``GTM_FETCH_CONNECT_TO`` (their real names routed here, see :meth:`DiscoveryTwin.env`) or
through their base-URL settings. The pages the hits point at are served by the web twin:
``WebTwin(pages=world.pages())``.

Searching: an article matches when every word of the query (case-folded, punctuation ignored)
appears in its title and text; the request's date window filters on the date the API reports
(``api_published``, else ``published``; an undated article passes, since the API cannot filter
what it cannot date); the request's limit caps the answer. Faults are injected per API with
:meth:`DiscoveryTwin.inject`: ``429`` (with ``retry-after: 1``), ``503``, ``timeout`` (the answer
waits ``timeout_sleep_s``), ``malformed`` (truncated JSON) and ``empty`` (a well-formed answer with
no results). ``calls`` counts requests per API; ``log`` keeps each one (headers, parameters, body).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from gtm_pipeline.twins.discovery_answers import ANSWERS
from gtm_pipeline.twins.discovery_world import (
    API_CHANNELS,
    API_HOSTS,
    APIS,
    EXCLUDED_HOSTS,
    FAULTS,
    JOB_HOSTS,
    KEYLESS_HOSTS,
    TOPIC,
    Article,
    Channel,
    World,
    query_words,
    render_page,
    synthetic_world,
)

__all__ = [
    "APIS",
    "API_CHANNELS",
    "API_HOSTS",
    "EXCLUDED_HOSTS",
    "FAULTS",
    "JOB_HOSTS",
    "KEYLESS_HOSTS",
    "TOPIC",
    "Article",
    "Channel",
    "DiscoveryTwin",
    "World",
    "query_words",
    "render_page",
    "synthetic_world",
]

# ---------------------------------------------------------------- the server


@dataclass
class Call:
    """One request the twin answered."""

    api: str
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    body: Any
    status: int
    fault: str | None


@dataclass
class _Faults:
    queue: dict[str, deque[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, api: str) -> str | None:
        with self.lock:
            pending = self.queue.get(api)
            return pending.popleft() if pending else None


class DiscoveryTwin:
    """Serve the discovery APIs over ``world`` on 127.0.0.1 (an ephemeral port by default).

    ``api_keys``: the keys Exa and Tavily accept (None: any non-empty key); a request without one
    gets the API's 401. EDGAR refuses (403) a User-Agent without an email address, as the SEC does.
    """

    def __init__(
        self,
        world: World,
        *,
        port: int = 0,
        timeout_sleep_s: float = 3.0,
        api_keys: dict[str, str] | None = None,
    ) -> None:
        self.world = world
        self.timeout_sleep_s = timeout_sleep_s
        self.api_keys = api_keys or {}
        self.calls: Counter[str] = Counter()
        self.log: list[Call] = []
        self._lock = threading.Lock()
        self._faults = _Faults()
        twin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = 1 << 16
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                twin._handle(self, "GET")

            def do_POST(self) -> None:
                twin._handle(self, "POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    # -- the test's side ----------------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def connect_to(self) -> list[str]:
        """``GTM_FETCH_CONNECT_TO`` entries routing the keyless APIs' real names here."""
        return [f"{host}={self.address}" for host in KEYLESS_HOSTS]

    def env(self) -> dict[str, str]:
        """The settings that point every source here (the keys are the twin's, not real ones)."""
        return {
            "GTM_FETCH_ALLOW": self.address,
            "GTM_FETCH_CONNECT_TO": ",".join(self.connect_to()),
            "GTM_EXA_URL": f"{self.url}/exa",
            "GTM_TAVILY_URL": f"{self.url}/tavily",
            "EXA_API_KEY": self.api_keys.get("exa", "exa-twin-key"),
            "TAVILY_API_KEY": self.api_keys.get("tavily", "tvly-twin-key"),
        }

    def inject(self, api: str, fault: str, times: int = 1) -> None:
        """The next ``times`` requests to ``api`` get ``fault`` (one of :data:`FAULTS`)."""
        if api not in APIS:
            raise ValueError(f"unknown api {api!r} ({', '.join(APIS)})")
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r} ({', '.join(FAULTS)})")
        with self._faults.lock:
            self._faults.queue.setdefault(api, deque()).extend([fault] * times)

    def calls_to(self, api: str) -> list[Call]:
        with self._lock:
            return [c for c in self.log if c.api == api]

    def __enter__(self) -> DiscoveryTwin:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- serving ------------------------------------------------------------------------------

    def _route(self, host: str, path: str) -> tuple[str, str] | None:
        """(api, the path below the API's prefix)."""
        for api in ("exa", "tavily"):
            if path == f"/{api}/search" or (path == "/search" and host == API_HOSTS[api]):
                return api, "/search"
        if path == "/api/v2/doc/doc":
            return "gdelt", path
        if path == "/api/v1/search_by_date":
            return "hn", path
        if path == "/LATEST/search-index":
            return "edgar", path
        for api, prefix in (
            ("greenhouse", "/v1/boards/"),
            ("lever", "/v0/postings/"),
            ("ashby", "/posting-api/job-board/"),
        ):
            if path.startswith(prefix):
                return api, path
        return None

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        host = (handler.headers.get("host") or "").split(":")[0].lower()
        headers = {k.lower(): v for k, v in handler.headers.items()}
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        length = int(headers.get("content-length") or 0)
        raw = handler.rfile.read(length) if length else b""
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        routed = self._route(host, parts.path)
        if routed is None:
            self._send(
                handler, Call("unknown", method, parts.path, params, headers, body, 404, None), 404, b"{}"
            )
            return
        api, _path = routed
        fault = self._faults.take(api)
        call = Call(api, method, parts.path, params, headers, body, 0, fault)
        with self._lock:
            self.calls[api] += 1
        if fault == "timeout":
            time.sleep(self.timeout_sleep_s)
        if fault == "429":
            self._send(handler, call, 429, self._error_body(api, "rate limit exceeded"), {"retry-after": "1"})
            return
        if fault == "503":
            self._send(handler, call, 503, self._error_body(api, "service unavailable"))
            return
        denied = self._denied(api, headers)
        if denied is not None:
            self._send(handler, call, denied, self._error_body(api, "unauthorized"))
            return
        try:
            status, payload = ANSWERS[api](
                self.world, params, body if isinstance(body, dict) else {}, fault, parts.path
            )
        except (ValueError, KeyError, TypeError) as exc:
            status, payload = 400, {"error": f"bad request: {exc}"}
        data = json.dumps(payload).encode()
        if fault == "malformed" and status == 200:
            data = data[: max(1, len(data) // 2)]
        self._send(handler, call, status, data)

    def _denied(self, api: str, headers: dict[str, str]) -> int | None:
        if api == "exa":
            given = headers.get("x-api-key", "")
        elif api == "tavily":
            given = headers.get("authorization", "").removeprefix("Bearer ").strip()
        elif api == "edgar":
            return None if "@" in headers.get("user-agent", "") else 403
        else:
            return None
        expected = self.api_keys.get(api)
        return None if given and (expected is None or given == expected) else 401

    @staticmethod
    def _error_body(api: str, message: str) -> bytes:
        if api == "tavily":
            return json.dumps({"detail": {"error": message}}).encode()
        if api == "exa":
            return json.dumps({"requestId": "twin", "error": message, "tag": "TWIN_FAULT"}).encode()
        return json.dumps({"error": message}).encode()

    def _send(
        self,
        handler: BaseHTTPRequestHandler,
        call: Call,
        status: int,
        data: bytes,
        extra: dict[str, str] | None = None,
    ) -> None:
        call.status = status
        with self._lock:
            self.log.append(call)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            handler.send_response(status)
            handler.send_header("content-type", "application/json; charset=utf-8")
            for name, value in (extra or {}).items():
                handler.send_header(name, value)
            handler.send_header("content-length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)

    # -- the APIs, in their own shapes ----------------------------------------------------------

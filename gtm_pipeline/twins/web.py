"""A synthetic internet on loopback: many sites on one port, told apart by the Host header.

The fetcher's tests and the fetch benchmark run against it over real HTTP. A site is a folder
``<root>/<host>/`` of files (``index.html`` for ``/``, ``about.html`` or ``about/index.html`` for
``/about``, ``robots.txt``, ``sitemap.xml``, feeds, ATS JSON), plus an optional ``_twin.yaml``
that scripts what real sites do to crawlers::

    robots_status: 503          # robots.txt answers 503 (the fetcher must then fetch nothing)
    routes:
      /slow: {delay: 30}                        # headers after 30 s
      /huge: {huge: 20000000}                   # 20 MB, no Content-Length
      /loop: {redirect: /loop}                  # a redirect loop
      /out: {redirect: "http://127.0.0.1:9/"}   # a hop to an unlisted loopback port
      /report.pdf: {content_type: application/pdf, body: "%PDF-1.4"}
      /legacy: {file: legacy.html, content_type: "text/html; charset=utf-8"}  # a lying charset

Pages can also be given in memory (``pages={host: {path: bytes}}``), as the benchmark does.
Every response carries an ETag and ``Cache-Control: no-cache``, and ``If-None-Match`` gets a 304,
so conditional GET is exercised. ``log`` records each request (host, path, start, end, headers)
so tests can check the User-Agent and that one host never saw two requests at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".xml": "application/xml",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".json": "application/json",
}


@dataclass
class Hit:
    """One request the twin answered."""

    host: str
    path: str
    started: float
    ended: float
    status: int
    headers: dict[str, str]


class WebTwin:
    """Serve sites from ``root`` (and/or ``pages``) on 127.0.0.1, on an ephemeral port."""

    def __init__(
        self,
        root: Path | None = None,
        *,
        pages: dict[str, dict[str, bytes]] | None = None,
        latency_s: float = 0.0,
        port: int = 0,
    ) -> None:
        self.root = root
        self.pages = pages or {}
        self.latency_s = latency_s
        self.log: list[Hit] = []
        self._log_lock = threading.Lock()
        twin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body leave in one write (http.server flushes after each request), and
            # without Nagle: otherwise every answer waits on a delayed ACK, which no real site does.
            wbufsize = 1 << 16
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                twin._handle(self)

        class Server(ThreadingHTTPServer):
            request_queue_size = 256  # socketserver's 5 drops SYNs under a crawler's burst (1 s retries)

        self._server = Server(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def hosts(self) -> list[str]:
        found = set(self.pages)
        if self.root is not None:
            found |= {p.name for p in self.root.iterdir() if p.is_dir()}
        return sorted(found)

    def connect_to(self) -> list[str]:
        """``GTM_FETCH_CONNECT_TO`` entries routing every served host here."""
        return [f"{host}={self.address}" for host in self.hosts()]

    def __enter__(self) -> WebTwin:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def hits(self, host: str | None = None) -> list[Hit]:
        with self._log_lock:
            return [h for h in self.log if host is None or h.host == host]

    # -- serving --------------------------------------------------------------------------------

    def _site_config(self, host: str) -> dict[str, Any]:
        if self.root is None:
            return {}
        path = self.root / host / "_twin.yaml"
        if not path.is_file():
            return {}
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}

    def _file(self, host: str, path: str) -> tuple[bytes, str] | None:
        if host in self.pages and path in self.pages[host]:
            suffix = Path(path).suffix or ".html"
            return self.pages[host][path], TYPES.get(suffix, "text/html; charset=utf-8")
        if self.root is None:
            return None
        site = (self.root / host).resolve()
        if not site.is_dir():
            return None
        relative = path.strip("/")
        options = (
            [site / "index.html"]
            if not relative
            else [
                site / relative,
                site / f"{relative}.html",
                site / f"{relative}.json",
                site / relative / "index.html",
            ]
        )
        for option in options:
            resolved = option.resolve()
            if resolved.is_file() and resolved.is_relative_to(site) and not resolved.name.startswith("_"):
                return resolved.read_bytes(), TYPES.get(resolved.suffix, "application/octet-stream")
        return None

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        started = time.monotonic()
        host = (handler.headers.get("host") or "").split(":")[0].lower()
        path = handler.path.split("?")[0]
        headers = {k.lower(): v for k, v in handler.headers.items()}
        if self.latency_s:
            time.sleep(self.latency_s)
        handler.hit = Hit(host, path, started, 0.0, 0, headers)  # type: ignore[attr-defined]
        self._respond(handler, host, path, headers)

    def _record(self, handler: BaseHTTPRequestHandler, status: int) -> None:
        """Log the request before its last bytes go out, so a client that has read its answer
        always finds it in the log."""
        hit: Hit = handler.hit  # type: ignore[attr-defined]
        hit.status, hit.ended = status, time.monotonic()
        with self._log_lock:
            self.log.append(hit)

    def _respond(self, handler: BaseHTTPRequestHandler, host: str, path: str, headers: dict[str, str]) -> int:
        config = self._site_config(host)
        route = (config.get("routes") or {}).get(path)
        if path == "/robots.txt" and config.get("robots_status"):
            return self._send(handler, int(config["robots_status"]), b"unavailable", "text/plain")
        if route is not None:
            return self._scripted(handler, host, route)
        found = self._file(host, path)
        if found is None:
            return self._send(handler, 404, b"not found", "text/plain")
        body, content_type = found
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        if headers.get("if-none-match") == etag:
            return self._send(handler, 304, b"", None, {"etag": etag, "cache-control": "no-cache"})
        return self._send(handler, 200, body, content_type, {"etag": etag, "cache-control": "no-cache"})

    def _scripted(self, handler: BaseHTTPRequestHandler, host: str, route: dict[str, Any]) -> int:
        if "delay" in route:
            time.sleep(float(route["delay"]))
        if "redirect" in route:
            return self._send(
                handler, int(route.get("status", 302)), b"", None, {"location": route["redirect"]}
            )
        if "huge" in route:
            handler.send_response(200)
            handler.send_header("content-type", route.get("content_type", "text/html; charset=utf-8"))
            handler.send_header("connection", "close")
            handler.end_headers()
            self._record(handler, 200)
            chunk = b"<p>" + b"x" * 65_530 + b"</p>"
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                for _ in range(int(route["huge"]) // len(chunk) + 1):
                    handler.wfile.write(chunk)
                    handler.wfile.flush()
            handler.close_connection = True
            return 200
        if "file" in route:
            site = self.root / host if self.root is not None else Path(".")
            body = (site / route["file"]).read_bytes()
        else:
            body = str(route.get("body", "")).encode("utf-8")
        return self._send(
            handler,
            int(route.get("status", 200)),
            body,
            route.get("content_type", "text/html; charset=utf-8"),
        )

    def _send(
        self,
        handler: BaseHTTPRequestHandler,
        status: int,
        body: bytes,
        content_type: str | None,
        extra: dict[str, str] | None = None,
    ) -> int:
        handler.send_response(status)
        if content_type:
            handler.send_header("content-type", content_type)
        for name, value in (extra or {}).items():
            handler.send_header(name, value)
        handler.send_header("content-length", str(len(body)))
        handler.end_headers()
        self._record(handler, status)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            handler.wfile.write(body)
        return status

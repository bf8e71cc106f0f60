"""The one way the pipeline reads the web: polite, bounded, safe, and explicit about every refusal.

Every connector (company sites, feeds, job boards) goes through :class:`Fetcher.get`, so the rules
hold everywhere at once:

- robots.txt is read for every origin a request (or a redirect hop) reaches, and obeyed;
- one request at a time per host, with a pause between two (the larger of the configured pause and
  the site's ``Crawl-delay``), across processes; a global rate per process;
- a User-Agent that names the product and the operator's contact, so a site owner can complain to
  a person rather than block a range;
- conditional GET through a persistent RFC 9111 cache (``hishel``), so an unchanged page costs a 304;
- caps on body size, redirects and total time, and an allowlist of content types;
- every connection, every hop, through the SSRF guard (:mod:`gtm_pipeline.sources.addresses`).

A request that is not made, or whose answer is not kept, raises :class:`FetchRefused` with one of
the reasons in :data:`REASONS`; nothing is dropped without one.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import charset_normalizer
import hishel
import httpx
from hishel.httpx import CacheTransport
from w3lib.encoding import html_body_declared_encoding, read_bom, resolve_encoding

from gtm_pipeline.domain.clock import Clock
from gtm_pipeline.domain.ids import content_hash
from gtm_pipeline.sources.addresses import AddressPolicy, AddressRefused, guarded_transport
from gtm_pipeline.sources.page_cache import CACHE_FILE
from gtm_pipeline.sources.politeness import GlobalRate, HostSlots, SlotTimeout
from gtm_pipeline.sources.robots import MAX_CACHE, RobotsCache, RobotsFile

REASONS = (
    "robots",
    "private_address",
    "too_large",
    "content_type",
    "timeout",
    "too_many_redirects",
    "unreachable",
    "bad_url",
    "http_<status>",
)
HTML_TYPES = ("text/html", "application/xhtml+xml")
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/xml", "text/xml")
JSON_TYPES = ("application/json",)
TEXT_TYPES = (*HTML_TYPES, "text/plain")
ALLOWED_TYPES = (*TEXT_TYPES, *FEED_TYPES, *JSON_TYPES)
REDIRECTS = (301, 302, 303, 307, 308)
ROBOTS_REDIRECTS = 5  # RFC 9309 §2.3.1.2: follow at least five
CACHE_TTL_S = 7 * 24 * 3600


class _Shared(httpx.BaseTransport):
    """The cached client's own transport, used without the cache; closed by that client only."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.inner.handle_request(request)

    def close(self) -> None:
        return None


class FetchRefused(Exception):
    """A URL the fetcher did not fetch or did not keep, and why."""

    def __init__(self, url: str, reason: str, detail: str = "", at_url: str | None = None) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.url, self.reason, self.detail, self.at_url = url, reason, detail, at_url or url

    def as_dict(self) -> dict[str, str]:
        return {"url": self.url, "refused": self.reason, "detail": self.detail, "at_url": self.at_url}


@dataclass(frozen=True)
class FetchConfig:
    """The limits, from the ``fetch`` settings."""

    contact: str
    product: str = "gtm-pipeline/0.1"
    agent_token: str = "gtm-pipeline"  # the name robots.txt groups are matched against
    pause_s: float = 1.0
    global_rate: float = 10.0
    max_bytes: int = 5_000_000
    max_redirects: int = 5
    timeout_s: float = 20.0
    max_crawl_delay_s: float = 30.0
    robots_ttl: dt.timedelta = MAX_CACHE

    @property
    def user_agent(self) -> str:
        return f"{self.product} (+outbound research; contact: {self.contact})"


@dataclass(frozen=True)
class Fetched:
    """One page as fetched: what a stored document records about where it came from."""

    url: str
    final_url: str
    status: int
    retrieved_at: dt.datetime
    content_type: str
    charset: str  # the codec the text was read with
    text: str
    content_hash: str
    robots: str
    from_cache: bool = False
    revalidated: bool = False
    redirects: tuple[str, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)
    charset_source: str = ""  # what decided the charset: the header, a <meta>, a fallback, a guess

    def provenance(self) -> dict[str, object]:
        return {
            "url": self.url,
            "final_url": self.final_url,
            "status": self.status,
            "retrieved_at": self.retrieved_at.isoformat(),
            "content_type": self.content_type,
            "charset": self.charset,
            "charset_source": self.charset_source,
            "content_hash": self.content_hash,
            "robots": self.robots,
            "from_cache": self.from_cache,
            "revalidated": self.revalidated,
            "redirects": list(self.redirects),
        }


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.lower(), "", "", ""))


class Fetcher:
    """Fetch pages under the rules above. Thread-safe; one per process is enough."""

    def __init__(
        self,
        config: FetchConfig,
        policy: AddressPolicy,
        clock: Clock,
        *,
        state_dir: Path,
        cache: bool = True,
        create_lock_files: bool = True,
        max_connections: int = 32,
    ) -> None:
        """``cache=False``: no HTTP cache. ``create_lock_files=False``: no per-host lock file is made
        under ``state_dir`` (existing ones are still honoured; see :mod:`.politeness`). With both,
        the fetcher leaves nothing on disk, as a one-shot command promises."""
        self.config, self.policy, self.clock = config, policy, clock
        self.slots = HostSlots(state_dir / "hosts", create=create_lock_files)
        self.rate = GlobalRate(config.global_rate)
        self.robots = RobotsCache(config.robots_ttl)
        self._robots_lock = threading.Lock()
        self._robots_locks: dict[str, threading.Lock] = {}
        plain: httpx.BaseTransport = guarded_transport(policy, max_connections=max_connections)
        transport = plain
        if cache:
            state_dir.mkdir(parents=True, exist_ok=True)
            # Copies of pages are kept at most a week whatever a site's headers say: they can hold
            # people's names, and an erasure must not wait on a far-future max-age (an erasure
            # empties it at once: sources/page_cache.py).
            storage = hishel.SqliteStorage(database_path=str(state_dir / CACHE_FILE), default_ttl=CACHE_TTL_S)
            transport = CacheTransport(next_transport=plain, storage=storage, rfc=True)
        common: dict[str, Any] = {
            "headers": {"user-agent": config.user_agent, "accept-encoding": "gzip, deflate"},
            "timeout": httpx.Timeout(config.timeout_s),
            "follow_redirects": False,
        }
        self._client = httpx.Client(transport=transport, **common)
        # robots.txt (RFC 9309 caps its cache at 24 h; a cached copy must not outlive that) and
        # pages about people are never taken from, or put in, the HTTP cache.
        self._uncached = httpx.Client(transport=_Shared(plain), **common) if cache else self._client

    def close(self) -> None:
        if self._uncached is not self._client:
            self._uncached.close()
        self._client.close()
        self.slots.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the public call ------------------------------------------------------------------------

    def get(self, url: str, *, accept: tuple[str, ...] = ALLOWED_TYPES, cache: bool = True) -> Fetched:
        """Fetch ``url`` following redirects, or raise :class:`FetchRefused`. ``cache=False``: neither
        served from nor stored in the HTTP cache (pages that name people)."""
        deadline = time.monotonic() + self.config.timeout_s
        current = self._checked_url(url, url)
        hops: list[str] = []
        seen = {current}
        while True:
            try:
                robots = self._robots_for(current, deadline)
            except FetchRefused as refused:  # the origin could not be reached: say so for this page
                raise FetchRefused(url, refused.reason, refused.detail, refused.at_url) from None
            if not robots.allows(current, self.config.agent_token):
                raise FetchRefused(url, "robots", f"disallowed by {robots.status} robots.txt", current)
            pause = self._pause(robots)
            status, headers, body, cached = self._request(url, current, pause, deadline, accept, cache=cache)
            if status in REDIRECTS and headers.get("location"):
                target = self._checked_url(url, urljoin(current, headers["location"]))
                hops.append(current)
                if target in seen or len(hops) > self.config.max_redirects:
                    raise FetchRefused(url, "too_many_redirects", f"{len(hops)} hops", target)
                seen.add(target)
                current = target
                continue
            break
        if status >= 400 or status < 200:
            raise FetchRefused(url, f"http_{status}", headers.get("content-type", ""), current)
        content_type, header_charset = _content_type(headers)
        decoded = _decode(body, header_charset)
        return Fetched(
            url=url,
            final_url=current,
            status=status,
            retrieved_at=self.clock.now(),
            content_type=content_type,
            charset=decoded.charset,
            charset_source=decoded.source,
            text=decoded.text,
            content_hash=content_hash(decoded.text),
            robots=robots.decision(current, self.config.agent_token),
            from_cache=bool(cached.get("from_cache")),
            revalidated=bool(cached.get("revalidated")),
            redirects=tuple(hops),
            headers=headers,
        )

    def read_robots(self, url: str) -> RobotsFile | FetchRefused:
        """Read (or reuse) the robots.txt of ``url``'s origin now, as its own request: a scheduler
        that does this first never has a worker wait out a pause inside :meth:`get`."""
        try:
            return self._robots_for(self._checked_url(url, url), time.monotonic() + self.config.timeout_s)
        except FetchRefused as refused:
            return refused

    def pause_for(self, url: str) -> float:
        """The pause between two requests to ``url``'s host: the configured one, or the site's
        ``Crawl-delay`` when longer (capped), as far as its robots.txt has been read."""
        robots = self.robots.get(origin_of(url), self.clock.now())
        return self._pause(robots)

    def _pause(self, robots: RobotsFile | None) -> float:
        delay = robots.crawl_delay(self.config.agent_token) if robots is not None else None
        return max(self.config.pause_s, min(delay or 0.0, self.config.max_crawl_delay_s))

    # -- the steps ------------------------------------------------------------------------------

    @staticmethod
    def _checked_url(original: str, candidate: str) -> str:
        try:
            parts = urlsplit(candidate.strip())
            parts.port  # noqa: B018 (a bad port raises here, not later inside httpx)
        except ValueError as exc:
            raise FetchRefused(original, "bad_url", f"{exc}: {candidate[:200]!r}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchRefused(original, "bad_url", f"only http(s) URLs with a host: {candidate!r}")
        if parts.username or parts.password:
            raise FetchRefused(original, "bad_url", "credentials in a URL are never sent", candidate)
        return urlunsplit((parts.scheme, parts.netloc.lower(), parts.path or "/", parts.query, ""))

    def _wire(self, url: str) -> str:
        """The URL as sent: a name routed to a local twin is spoken to over plain HTTP."""
        parts = urlsplit(url)
        if parts.hostname and self.policy.routed(parts.hostname):
            return urlunsplit(("http", parts.hostname, parts.path, parts.query, ""))
        return url

    def _robots_for(self, url: str, deadline: float) -> RobotsFile:
        origin = origin_of(url)
        with self._robots_lock:
            lock = self._robots_locks.setdefault(origin, threading.Lock())
        with lock:  # one read of robots.txt per origin, however many threads ask at once
            now = self.clock.now()
            cached = self.robots.get(origin, now)
            if cached is not None:
                return cached
            return self._read_robots(origin, now, deadline)

    def _read_robots(self, origin: str, now: dt.datetime, deadline: float) -> RobotsFile:
        target = origin + "/robots.txt"
        robots: RobotsFile | None = None
        try:
            for _ in range(ROBOTS_REDIRECTS + 1):
                status, headers, body, _cached = self._request(
                    target, target, self.config.pause_s, deadline, None, robots_file=True, cache=False
                )
                if status in REDIRECTS and headers.get("location"):
                    target = urljoin(target, headers["location"])
                    self._checked_url(target, target)
                    continue
                robots = RobotsFile.from_response(origin, status, body, now)
                break
            else:
                robots = RobotsFile.unreachable(origin, now, "robots.txt redirects too often")
        except FetchRefused as refused:
            if refused.reason in ("private_address", "unreachable", "timeout", "bad_url"):
                # Not an answer from the site: the page would fail the same way, so say that (and
                # cache nothing: a network hiccup must not pass for a day-long "disallow all").
                raise FetchRefused(origin, refused.reason, refused.detail, refused.at_url) from None
            robots = RobotsFile.unreachable(origin, now, f"{refused.reason}: {refused.detail}")
        self.robots.put(robots)
        return robots

    def _request(
        self,
        original: str,
        url: str,
        pause: float,
        deadline: float,
        accept: tuple[str, ...] | None,
        *,
        robots_file: bool = False,
        cache: bool = True,
    ) -> tuple[int, dict[str, str], bytes, dict[str, bool]]:
        host = (urlsplit(url).hostname or "").lower()
        limit = 500 * 1024 if robots_file else self.config.max_bytes
        client = self._client if cache else self._uncached
        try:
            with self.slots.slot(host, pause, deadline):
                return self._send(client, original, url, deadline, accept, limit, robots_file)
        except SlotTimeout:
            detail = f"{host} stayed busy past the {self.config.timeout_s:g}s cap"
            raise FetchRefused(original, "timeout", detail, url) from None

    def _send(
        self,
        client: httpx.Client,
        original: str,
        url: str,
        deadline: float,
        accept: tuple[str, ...] | None,
        limit: int,
        robots_file: bool,
    ) -> tuple[int, dict[str, str], bytes, dict[str, bool]]:
        self.rate.wait()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchRefused(original, "timeout", f"over {self.config.timeout_s:g}s in all", url)
        try:
            request = client.build_request("GET", self._wire(url), timeout=httpx.Timeout(remaining))
            response = client.send(request, stream=True)
        except (UnicodeError, httpx.InvalidURL) as exc:
            raise FetchRefused(original, "bad_url", f"{type(exc).__name__}: {exc}", url) from exc
        except AddressRefused as exc:
            reason = "private_address" if exc.private else "unreachable"
            raise FetchRefused(original, reason, str(exc), url) from exc
        except httpx.TimeoutException as exc:
            raise FetchRefused(original, "timeout", type(exc).__name__, url) from exc
        except httpx.TransportError as exc:
            raise FetchRefused(original, "unreachable", f"{type(exc).__name__}: {exc}", url) from exc
        try:
            headers = {k.lower(): v for k, v in response.headers.items()}
            status = response.status_code
            if accept is not None and 200 <= status < 300:
                content_type, _ = _content_type(headers)
                if content_type not in accept:
                    raise FetchRefused(original, "content_type", content_type or "none given", url)
            declared = headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise FetchRefused(original, "too_large", f"{declared} bytes declared", url)
            body = bytearray()
            try:
                for chunk in response.iter_bytes():
                    body.extend(chunk)
                    if len(body) > limit:
                        if robots_file:
                            break  # RFC 9309: parse what fits, ignore the rest
                        raise FetchRefused(original, "too_large", f"over {limit} bytes", url)
                    if time.monotonic() > deadline:
                        raise FetchRefused(original, "timeout", "body still arriving", url)
            except httpx.TimeoutException as exc:
                raise FetchRefused(original, "timeout", type(exc).__name__, url) from exc
            except httpx.TransportError as exc:
                raise FetchRefused(original, "unreachable", f"{type(exc).__name__}", url) from exc
            cache = response.extensions.get("caching")
            return status, headers, bytes(body[:limit]), dict(cache) if isinstance(cache, dict) else {}
        finally:
            response.close()


def _content_type(headers: dict[str, str]) -> tuple[str, str | None]:
    raw = headers.get("content-type", "")
    media, *params = [part.strip() for part in raw.split(";")]
    charset = None
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"').lower()
    return media.lower(), charset


UTF_FAMILY = ("utf-8", "utf-16", "utf-32")


@dataclass(frozen=True)
class Decoded:
    """A body's text, the codec that produced it and what decided that codec (kept in provenance:
    a page read with a guessed charset must say it was a guess)."""

    text: str
    charset: str
    source: str


def _decode(body: bytes, header_label: str | None) -> Decoded:
    """The text of ``body``, decided in the order that is right most often on the real web.

    1. A byte order mark: it cannot be there by accident.
    2. The ``Content-Type`` charset, then ``<meta charset>`` / ``http-equiv`` (or an XML
       declaration), each only when the bytes decode strictly with it: servers and templates lie
       (a page saved in windows-1252 behind a server that stamps ``charset=utf-8`` on everything).
       Labels are read as browsers read them (WHATWG): ``latin-1``, ``iso-8859-1`` and ``ascii``
       mean windows-1252. A declared single-byte charset decodes *any* bytes, so the strict check
       cannot catch it lying; but legacy text that happens to be valid multi-byte UTF-8 is
       vanishingly rare, while a UTF-8 page under an old ``iso-8859-1`` header or template is
       common. So bytes that are valid UTF-8 *and* not plain ASCII are read as UTF-8 even against
       a declared legacy charset (a browser would show mojibake there; we keep the words).
    3. Strict UTF-8.
    4. windows-1252, when the bytes decode with it and charset-normalizer counts it among the
       plausible codecs: the likeliest legacy charset of the pages this pipeline reads. The
       detector alone picks neighbours (cp1257 for French, so "hôpitaux" came out wrong), but
       asking it whether windows-1252 is plausible at all keeps Cyrillic or Greek pages (which
       windows-1252 also "decodes") out of this step.
    5. charset-normalizer's best guess; last, UTF-8 with replacement characters.
    """
    bom, mark = read_bom(body)
    if bom is not None and mark is not None:
        return _bom(body[len(mark) :], bom)
    overruled: list[str] = []
    header = resolve_encoding(header_label) if header_label else None
    if header_label and header is None:
        overruled.append(f"header said {header_label}, an unknown charset")
    declarations = (("header", header_label, header), ("meta", None, html_body_declared_encoding(body)))
    for where, label, codec in declarations:
        if codec:
            said = (
                f"{where} said {label}, read as {codec}"
                if label and label != codec
                else f"{where} said {codec}"
            )
            decided = _declared(body, codec, where, said, overruled)
            if decided is not None:
                return decided
    return _undeclared(body, f" ({'; '.join(overruled)})" if overruled else "")


def _strict(body: bytes, codec: str) -> str | None:
    try:
        return body.decode(codec)
    except (LookupError, UnicodeDecodeError):
        return None


def _bom(body: bytes, codec: str) -> Decoded:
    text = _strict(body, codec)
    if text is not None:
        return Decoded(text, codec, "byte order mark")
    return Decoded(
        body.decode(codec, errors="replace"), codec, "byte order mark, with replacement characters"
    )


def _declared(body: bytes, codec: str, where: str, said: str, overruled: list[str]) -> Decoded | None:
    """``body`` read with the charset declared in ``where``, or None (the reason in ``overruled``)."""
    if where == "meta" and codec.startswith(("utf-16", "utf-32")):
        codec = "utf-8"  # WHATWG: a document that could spell its <meta> in ASCII is not UTF-16
    if not codec.startswith(UTF_FAMILY) and not body.isascii():
        as_utf8 = _strict(body, "utf-8")
        if as_utf8 is not None:
            return Decoded(as_utf8, "utf-8", f"valid utf-8 ({said})")
    text = _strict(body, codec)
    if text is not None:
        return Decoded(text, codec, where)
    overruled.append(f"{said}, which does not decode")
    return None


def _undeclared(body: bytes, note: str) -> Decoded:
    """No usable declaration: UTF-8, else windows-1252 if plausible, else the detector's guess."""
    text = _strict(body, "utf-8")
    if text is not None:
        return Decoded(text, "utf-8", "valid utf-8" + note)
    legacy = _strict(body, "cp1252")
    matches = charset_normalizer.from_bytes(body)
    if legacy is not None and any("cp1252" in m.could_be_from_charset for m in matches):
        return Decoded(legacy, "cp1252", "windows-1252 fallback" + note)
    best = matches.best()
    if best is not None and best.encoding:
        return Decoded(str(best), best.encoding, "detected by charset-normalizer" + note)
    if legacy is not None:
        return Decoded(legacy, "cp1252", "windows-1252 fallback" + note)
    return Decoded(
        body.decode("utf-8", errors="replace"), "utf-8", "utf-8 with replacement characters" + note
    )

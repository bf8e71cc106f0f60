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
import datetime as dt
import hashlib
import html
import json
import random
import re
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

Channel = Literal["web", "news", "hn", "filing", "job"]
APIS = ("exa", "tavily", "gdelt", "hn", "edgar", "greenhouse", "lever", "ashby")
FAULTS = ("429", "503", "timeout", "malformed", "empty")
API_HOSTS = {
    "exa": "api.exa.ai",
    "tavily": "api.tavily.com",
    "gdelt": "api.gdeltproject.org",
    "hn": "hn.algolia.com",
    "edgar": "efts.sec.gov",
    "greenhouse": "boards-api.greenhouse.io",
    "lever": "api.lever.co",
    "ashby": "api.ashbyhq.com",
}
KEYLESS_HOSTS = tuple(API_HOSTS[a] for a in ("gdelt", "hn", "edgar", "greenhouse", "lever", "ashby"))
# Which channels each search API indexes.
API_CHANNELS: dict[str, frozenset[str]] = {
    "exa": frozenset({"web", "news"}),
    "tavily": frozenset({"web", "news"}),
    "gdelt": frozenset({"news"}),
    "hn": frozenset({"hn"}),
    "edgar": frozenset({"filing"}),
}
_WORD = re.compile(r"[\w][\w.'-]*")


@dataclass
class Article:
    """One document of the world, and how the APIs report it.

    ``snippet``: what the API returns as the quote when it should *not* match the page (a lying or
    stale snippet); ``page_dated``: whether the rendered page carries its date (JSON-LD
    ``datePublished``); ``api_published``: the date the API reports when it differs from the page's
    (a re-crawled page: the API says recent, the page says old). Filings carry their ``form`` and
    8-K ``items``; a job's board is read from its URL (``boards.greenhouse.io/<token>/jobs/<id>``,
    ``jobs.lever.co/<token>/<id>``, ``jobs.ashbyhq.com/<token>/<id>``); a filing's CIK and accession
    number from its URL (``www.sec.gov/Archives/edgar/data/<cik>/<adsh>/<file>``).
    """

    url: str
    title: str
    text: str
    published: dt.date | None
    company_name: str
    company_domain: str
    channel: Channel
    snippet: str | None = None
    page_dated: bool = True
    api_published: dt.date | None = None
    form: str | None = None
    items: tuple[str, ...] = ()

    @property
    def host(self) -> str:
        return (urlsplit(self.url).hostname or "").lower()

    @property
    def path(self) -> str:
        return urlsplit(self.url).path or "/"

    @property
    def reported(self) -> dt.date | None:
        """The date the APIs report."""
        return self.api_published or self.published

    @property
    def quote(self) -> str:
        """What an API returns as this article's extract: the snippet, else its first sentence."""
        if self.snippet is not None:
            return self.snippet
        first = re.split(r"(?<=[.!?])\s", self.text.strip(), maxsplit=1)[0]
        return first[:300]

    def words(self) -> set[str]:
        return {w.lower().strip(".'-") for w in _WORD.findall(f"{self.title} {self.text}")}

    def board(self) -> tuple[str, str, str] | None:
        """(ats, token, job id) of a job posting."""
        parts = [p for p in self.path.split("/") if p]
        if self.host == "boards.greenhouse.io" and len(parts) == 3 and parts[1] == "jobs":
            return "greenhouse", parts[0], parts[2]
        if self.host == "jobs.lever.co" and len(parts) == 2:
            return "lever", parts[0], parts[1]
        if self.host == "jobs.ashbyhq.com" and len(parts) == 2:
            return "ashby", parts[0], parts[1]
        return None

    def filing(self) -> tuple[str, str, str] | None:
        """(cik, accession number with dashes, file name) of a filing."""
        parts = [p for p in self.path.split("/") if p]
        if self.host != "www.sec.gov" or len(parts) != 6 or parts[:3] != ["Archives", "edgar", "data"]:
            return None
        cik, folder, name = parts[3], parts[4], parts[5]
        if len(folder) != 18:
            return None
        return cik, f"{folder[:10]}-{folder[10:12]}-{folder[12:]}", name


def query_words(text: str) -> list[str]:
    return [w.lower().strip(".'-") for w in _WORD.findall(text) if w.strip(".'-")]


@dataclass
class World:
    """Everything the twin APIs can find, and the pages behind it."""

    articles: list[Article]

    def search(
        self,
        channels: Iterable[str],
        text: str,
        since: dt.date | None = None,
        until: dt.date | None = None,
        limit: int | None = None,
    ) -> list[Article]:
        """Articles of these channels matching every word of ``text`` in the window, newest first."""
        wanted, words = set(channels), set(query_words(text))
        found = []
        for article in self.articles:
            if article.channel not in wanted or not words <= article.words():
                continue
            day = article.reported
            if day is not None and ((since and day < since) or (until and day > until)):
                continue
            found.append(article)
        found.sort(key=lambda a: a.reported or dt.date.min, reverse=True)
        return found[:limit] if limit is not None else found

    def jobs(self, ats: str, token: str) -> list[Article] | None:
        """The postings on one board (None: no such board)."""
        postings = [
            a for a in self.articles if a.channel == "job" and (a.board() or ("",))[:2] == (ats, token)
        ]
        return postings or None

    def pages(self) -> dict[str, dict[str, bytes]]:
        """Every article rendered as an HTML page, by host and path, for ``WebTwin(pages=…)``."""
        sites: dict[str, dict[str, bytes]] = {}
        for article in self.articles:
            if article.host == "news.ycombinator.com":
                continue  # item pages are addressed by query string, which the web twin ignores
            sites.setdefault(article.host, {})[article.path] = render_page(article)
        return sites


def render_page(article: Article) -> bytes:
    """An article page: title, paragraphs, and (when dated) JSON-LD ``datePublished``. A filing is
    plain HTML, as EDGAR serves it: no JSON-LD, so neither its date nor its filer's site is on the
    page as data (EDGAR's own filing date and the site its text names are what count)."""
    head = f"<title>{html.escape(article.title)}</title>"
    if article.page_dated and article.published is not None and article.channel != "filing":
        data = {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": article.title,
            "datePublished": article.published.isoformat(),
            "publisher": {"@type": "Organization", "name": article.company_name},
        }
        if article.host not in (article.company_domain, f"www.{article.company_domain}"):
            # a third party's report names the organization it is about, as many newsrooms do
            data["publisher"] = {"@type": "Organization", "name": article.host}
            data["about"] = {
                "@type": "Organization",
                "name": article.company_name,
                "url": f"https://{article.company_domain}/",
            }
        head += f'<script type="application/ld+json">{json.dumps(data)}</script>'
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in article.text.split("\n\n") if p.strip())
    body = f"<article><h1>{html.escape(article.title)}</h1>{paragraphs}</article>"
    page = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">{head}</head><body>{body}</body></html>'
    )
    return page.encode()


# ---------------------------------------------------------------- the synthetic world

_SYLLABLES = ("ac", "me", "no", "va", "lu", "ra", "tek", "bri", "do", "zen", "qua", "sil", "mo", "ri", "pex")
_SUFFIXES = ("Health", "Labs", "Systems", "Bio", "Care", "Analytics", "Logistics", "Pay", "Cloud", "Works")
TOPIC = "compliance"  # every article speaks of it: the benchmark's query word
NEWS_HOSTS = ("newswire.example", "techdaily.example", "healthbiz.example")
EXCLUDED_HOSTS = ("review-aggregator.example", "job-aggregator.example")
_EVENTS = (
    ("hiring", "{c} is hiring a compliance analyst to grow its audit team", "hiring"),
    ("leadership", "{c} appoints a new head of compliance", "leadership"),
    ("funding", "{c} raises a Series A to automate compliance reporting", "funding"),
    ("audit", "{c} completes its SOC 2 audit and compliance certification", "audit"),
    ("launch", "{c} launches a compliance dashboard for hospitals", "launch"),
    ("adoption", "{c} adopts automation for compliance evidence collection", "adoption"),
)
JOB_HOSTS = {"greenhouse": "boards.greenhouse.io", "lever": "jobs.lever.co", "ashby": "jobs.ashbyhq.com"}
_JOB_TITLES = (
    "Compliance Analyst",
    "GRC Manager",
    "Senior Compliance Engineer",
    "Head of Compliance",
    "Backend Engineer",
    "Account Executive",
)


@dataclass(frozen=True)
class Company:
    name: str
    domain: str
    token: str
    ats: str
    cik: str


def _companies(rng: random.Random, count: int) -> list[Company]:
    seen: set[str] = set()
    found: list[Company] = []
    while len(found) < count:
        stem = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3)))
        suffix = rng.choice(_SUFFIXES)
        slug = f"{stem}-{suffix.lower()}"
        if slug in seen:
            continue
        seen.add(slug)
        found.append(
            Company(
                name=f"{stem.title()} {suffix}",
                domain=f"{slug}.example",
                token=slug.replace("-", ""),
                ats=rng.choice(("greenhouse", "lever", "ashby")),
                cik=f"{rng.randint(1_000_000, 1_999_999)}",
            )
        )
    return found


def synthetic_world(
    companies: int = 300, hits: int = 1000, seed: int = 14, today: dt.date | None = None
) -> World:
    """A deterministic world of about ``hits`` searchable articles across ``companies`` companies.

    Shares (by design, for the benchmark): about 15% stale (published 200-600 days ago; a third
    of those re-crawled, so the APIs report a recent date while the page says the old one), 8%
    whose page carries no date, 4% with no date at all, 6% whose API snippet is not on the page
    (a lying snippet), 5% on excluded hosts (review and job aggregators), 20% third-party news.
    Channels: company sites 30%, news 20%, Hacker News 8%, filings 10%, job postings 27%,
    aggregators 5%. ``today`` must be given (the twin never reads the clock).
    """
    if today is None:
        raise ValueError("synthetic_world needs today (pass the clock's date)")
    rng = random.Random(seed)
    firms = _companies(rng, companies)
    articles: list[Article] = []
    for n in range(hits):
        firm = firms[n % len(firms)] if n < len(firms) else rng.choice(firms)
        roll = rng.random()
        channel: Channel
        if roll < 0.30:
            channel = "web"
        elif roll < 0.50:
            channel = "news"
        elif roll < 0.58:
            channel = "hn"
        elif roll < 0.68:
            channel = "filing"
        elif roll < 0.95:
            channel = "job"
        else:
            channel = "web"  # on an excluded aggregator, below
        age = rng.randint(0, 170)
        stale = rng.random() < 0.15
        if stale:
            age = rng.randint(200, 600)
        published: dt.date | None = today - dt.timedelta(days=age)
        api_published = (
            today - dt.timedelta(days=rng.randint(0, 60)) if stale and rng.random() < 0.33 else None
        )
        kind, headline, slug = rng.choice(_EVENTS)
        title = headline.format(c=firm.name)
        body = (
            f"{title}. The company said the work is part of its {TOPIC} programme for 2026."
            f"\n\n{firm.name} ({firm.domain}) serves regulated customers; its {TOPIC} team reports to the"
            f" chief operating officer.\n\nThe {kind} news was shared with customers this week."
        )
        article = _article(channel, firm, n, title, body, published, slug, rng)
        if roll >= 0.95:
            host = rng.choice(EXCLUDED_HOSTS)
            article.url = f"https://{host}/{firm.token}/{slug}-{n}"
        article.api_published = api_published
        dating = rng.random()
        if channel in ("web", "news") and dating < 0.04:
            article.published = None
            article.api_published = None
            article.page_dated = False
        elif dating < 0.12:
            article.page_dated = False
        if channel in ("web", "news", "hn") and rng.random() < 0.06:
            article.snippet = f"{firm.name} announced record {TOPIC} revenue and a new chief executive."
        articles.append(article)
    return World(articles)


def _article(
    channel: Channel,
    firm: Company,
    n: int,
    title: str,
    body: str,
    published: dt.date | None,
    slug: str,
    rng: random.Random,
) -> Article:
    common: dict[str, Any] = {
        "published": published,
        "company_name": firm.name,
        "company_domain": firm.domain,
        "channel": channel,
    }
    if channel == "news":
        host = rng.choice(NEWS_HOSTS)
        return Article(
            f"https://{host}/{published or 'undated'}/{firm.token}-{slug}-{n}", title, body, **common
        )
    if channel == "hn":
        return Article(f"https://{firm.domain}/blog/{slug}-{n}", title, body, **common)
    if channel == "filing":
        form = "D" if slug == "funding" and rng.random() < 0.5 else "8-K"
        items: tuple[str, ...] = ()
        if form == "8-K":
            items = {"leadership": ("5.02", "9.01"), "funding": ("3.02",), "audit": ("4.01",)}.get(
                slug, ("8.01",)
            )
        adsh = f"{rng.randint(1_000_000_000, 1_999_999_999):010d}{rng.randint(20, 26):02d}{n:06d}"
        name = "primary_doc.xml" if form == "D" else f"d{n}8k.htm"
        quote = ", ".join([firm.name, form, *(f"Item {i}" for i in items)])
        text = f"{quote}\n\n{body}"
        url = f"https://www.sec.gov/Archives/edgar/data/{firm.cik}/{adsh}/{name}"
        return Article(url, f"{firm.name} {form}", text, form=form, items=items, **common)
    if channel == "job":
        job_title = rng.choice(_JOB_TITLES)
        text = f"{job_title}\n\n{firm.name} is hiring a {job_title} to join its {TOPIC} team."
        job_id = str(4_000_000 + n) if firm.ats == "greenhouse" else str(uuid.UUID(int=rng.getrandbits(128)))
        middle = "/jobs" if firm.ats == "greenhouse" else ""
        return Article(
            f"https://{JOB_HOSTS[firm.ats]}/{firm.token}{middle}/{job_id}", job_title, text, **common
        )
    return Article(f"https://{firm.domain}/news/{slug}-{n}", title, body, **common)


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


def _when(day: dt.date | None, fmt: str) -> str | None:
    if day is None:
        return None
    at = dt.datetime.combine(day, dt.time(12, 0), tzinfo=dt.UTC)
    return at.strftime(fmt)


def _date_arg(value: str | None) -> dt.date | None:
    if not value:
        return None
    with contextlib.suppress(ValueError):
        return dt.date.fromisoformat(value[:10])
    with contextlib.suppress(ValueError):
        return dt.date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    return None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


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
            status, payload = getattr(self, f"_{api}")(
                params, body if isinstance(body, dict) else {}, fault, parts.path
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

    def _exa(
        self, params: dict[str, str], body: dict[str, Any], fault: str | None, path: str
    ) -> tuple[int, Any]:
        query = str(body["query"])
        channels = {"news"} if body.get("category") == "news" else API_CHANNELS["exa"]
        found = (
            []
            if fault == "empty"
            else self.world.search(
                channels,
                query,
                _date_arg(body.get("startPublishedDate")),
                _date_arg(body.get("endPublishedDate")),
                int(body.get("numResults") or 10),
            )
        )
        contents = body.get("contents") or {}
        text_option = contents.get("text")
        max_chars = text_option.get("maxCharacters", 10_000) if isinstance(text_option, dict) else 10_000
        results = []
        for article in found:
            result: dict[str, Any] = {
                "id": article.url,
                "url": article.url,
                "title": article.title,
                "publishedDate": _when(article.reported, "%Y-%m-%dT%H:%M:%S.000Z"),
                "author": None,
            }
            if text_option:
                result["text"] = article.text[:max_chars]
            if contents.get("highlights"):
                result["highlights"] = [article.quote]
                result["highlightScores"] = [0.42]
            results.append(result)
        return 200, {
            "requestId": _digest(query)[:32],
            "resolvedSearchType": "neural",
            "results": results,
            "searchTime": 42.0,
            "costDollars": {"total": 0.007, "search": {"neural": 0.007}},
        }

    def _tavily(
        self, params: dict[str, str], body: dict[str, Any], fault: str | None, path: str
    ) -> tuple[int, Any]:
        query = str(body["query"])
        news = body.get("topic") == "news"
        found = (
            []
            if fault == "empty"
            else self.world.search(
                API_CHANNELS["tavily"],
                query,
                _date_arg(body.get("start_date")),
                _date_arg(body.get("end_date")),
                int(body.get("max_results") or 5),
            )
        )
        results = []
        for rank, article in enumerate(found):
            result: dict[str, Any] = {
                "url": article.url,
                "title": article.title,
                "content": article.quote,
                "score": round(0.9 - rank * 0.01, 4),
                "raw_content": None,
            }
            if news:  # the news topic dates its results; general search does not
                result["published_date"] = _when(article.reported, "%a, %d %b %Y %H:%M:%S GMT")
            results.append(result)
        return 200, {
            "query": query,
            "follow_up_questions": None,
            "answer": None,
            "images": [],
            "results": results,
            "response_time": 0.42,
            "request_id": str(uuid.UUID(_digest(query)[:32])),
        }

    def _gdelt(self, params: dict[str, str], body: Any, fault: str | None, path: str) -> tuple[int, Any]:
        limit = min(int(params.get("maxrecords") or 75), 250)
        found = (
            []
            if fault == "empty"
            else self.world.search(
                API_CHANNELS["gdelt"],
                params["query"],
                _date_arg(params.get("startdatetime")),
                _date_arg(params.get("enddatetime")),
                limit,
            )
        )
        if not found:
            return 200, {}  # GDELT's answer when nothing matched
        return 200, {
            "articles": [
                {
                    "url": a.url,
                    "url_mobile": "",
                    "title": a.title,
                    "seendate": _when(a.reported, "%Y%m%dT%H%M%SZ") or "",
                    "socialimage": "",
                    "domain": a.host,
                    "language": "English",
                    "sourcecountry": "United States",
                }
                for a in found
            ]
        }

    def _hn(self, params: dict[str, str], body: Any, fault: str | None, path: str) -> tuple[int, Any]:
        since = until = None
        for condition in params.get("numericFilters", "").split(","):
            match = re.fullmatch(r"\s*created_at_i\s*(>=|>|<=|<)\s*(\d+)\s*", condition)
            if not match:
                continue
            op, seconds = match.group(1), int(match.group(2))
            day = dt.datetime.fromtimestamp(seconds, tz=dt.UTC).date()
            if op in (">", ">="):
                since = day
            else:
                until = day - dt.timedelta(days=1) if op == "<" and seconds % 86400 == 0 else day
        limit = int(params.get("hitsPerPage") or 20)
        found = (
            []
            if fault == "empty"
            else self.world.search(API_CHANNELS["hn"], params.get("query", ""), since, until)
        )
        hits = []
        for article in found[:limit]:
            object_id = str(int(_digest(article.url)[:7], 16))
            at = dt.datetime.combine(article.reported or dt.date(2000, 1, 1), dt.time(12), tzinfo=dt.UTC)
            own_text = article.host == "news.ycombinator.com"
            hits.append(
                {
                    "_tags": ["story", "author_twin", f"story_{object_id}"],
                    "author": "twin",
                    "children": [],
                    "created_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "created_at_i": int(at.timestamp()),
                    "num_comments": 3,
                    "objectID": object_id,
                    "points": 12,
                    "story_id": int(object_id),
                    "story_text": article.text if own_text else None,
                    "title": article.snippet or article.title,
                    "updated_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "url": None if own_text else article.url,
                }
            )
        return 200, {
            "exhaustive": {"nbHits": True, "typo": True},
            "exhaustiveNbHits": True,
            "hits": hits,
            "hitsPerPage": limit,
            "nbHits": len(found),
            "nbPages": max(1, -(-len(found) // max(1, limit))),
            "page": 0,
            "params": "&".join(f"{k}={v}" for k, v in params.items()),
            "processingTimeMS": 1,
            "query": params.get("query", ""),
        }

    def _edgar(self, params: dict[str, str], body: Any, fault: str | None, path: str) -> tuple[int, Any]:
        forms = {f.strip().upper() for f in params.get("forms", "").split(",") if f.strip()}
        found = [] if fault == "empty" else self.world.search(
            API_CHANNELS["edgar"], params.get("q", "").replace('"', " "),
            _date_arg(params.get("startdt")), _date_arg(params.get("enddt")),
        )  # fmt: skip
        found = [a for a in found if not forms or (a.form or "").upper() in forms][:100]
        hits = []
        for article in found:
            filing = article.filing()
            if filing is None:
                continue
            cik, adsh, name = filing
            form = article.form or "8-K"
            hits.append(
                {
                    "_index": "edgar_file",
                    "_id": f"{adsh}:{name}",
                    "_score": 1.0,
                    "_source": {
                        "ciks": [cik.zfill(10)],
                        "period_ending": (article.reported or dt.date(2000, 1, 1)).isoformat(),
                        "file_num": ["001-40000"],
                        "display_names": [f"{article.company_name}  (CIK {cik.zfill(10)})"],
                        "xsl": "xsl_D" if form == "D" else None,
                        "sequence": 1,
                        "root_forms": [form],
                        "file_date": (article.reported or dt.date(2000, 1, 1)).isoformat(),
                        "biz_states": ["CA"],
                        "sics": ["8000"],
                        "form": form,
                        "adsh": adsh,
                        "film_num": ["25000000"],
                        "biz_locations": ["San Francisco, CA"],
                        "file_type": form,
                        "file_description": form,
                        "inc_states": ["DE"],
                        "items": list(article.items),
                    },
                }
            )
        return 200, {
            "took": 3,
            "timed_out": False,
            "_shards": {"total": 50, "successful": 50, "skipped": 0, "failed": 0},
            "hits": {"total": {"value": len(hits), "relation": "eq"}, "max_score": 1.0, "hits": hits},
            "aggregations": {},
            "query": {"q": params.get("q", "")},
        }

    def _board(self, ats: str, path: str, fault: str | None) -> list[Article] | None:
        token = [p for p in path.split("/") if p][2]
        jobs = self.world.jobs(ats, token)
        return [] if fault == "empty" and jobs is not None else jobs

    def _greenhouse(self, params: dict[str, str], body: Any, fault: str | None, path: str) -> tuple[int, Any]:
        jobs = self._board("greenhouse", path, fault)
        if jobs is None:
            return 404, {"status": 404, "error": "Job not found"}
        postings = []
        for article in jobs:
            board = article.board() or ("", "", "0")
            day = article.reported
            postings.append(
                {
                    "absolute_url": article.url,
                    "data_compliance": [{"type": "gdpr", "requires_consent": False}],
                    "internal_job_id": int(board[2]) + 1,
                    "location": {"name": "Remote"},
                    "metadata": None,
                    "id": int(board[2]),
                    "updated_at": _when(day, "%Y-%m-%dT%H:%M:%S-04:00"),
                    "requisition_id": f"REQ-{board[2]}",
                    "title": article.title,
                    "company_name": article.company_name,
                    "first_published": _when(day, "%Y-%m-%dT%H:%M:%S-04:00"),
                    "language": "en",
                }
            )
        return 200, {"jobs": postings, "meta": {"total": len(postings)}}

    def _lever(self, params: dict[str, str], body: Any, fault: str | None, path: str) -> tuple[int, Any]:
        jobs = self._board("lever", path, fault)
        if jobs is None:
            return 404, {"ok": False, "error": "Document not found"}
        postings = []
        for article in jobs:
            board = article.board() or ("", "", "")
            at = dt.datetime.combine(article.reported or dt.date(2000, 1, 1), dt.time(12), tzinfo=dt.UTC)
            postings.append(
                {
                    "additionalPlain": "",
                    "categories": {"commitment": "Full-time", "location": "Remote", "team": "Compliance"},
                    "createdAt": int(at.timestamp() * 1000),
                    "descriptionPlain": article.text,
                    "id": board[2],
                    "lists": [],
                    "text": article.title,
                    "country": "US",
                    "workplaceType": "remote",
                    "hostedUrl": article.url,
                    "applyUrl": f"{article.url}/apply",
                }
            )
        return 200, postings

    def _ashby(self, params: dict[str, str], body: Any, fault: str | None, path: str) -> tuple[int, Any]:
        jobs = self._board("ashby", path, fault)
        if jobs is None:
            return 404, {"success": False, "errors": ["Job board not found"]}
        postings = [
            {
                "id": (article.board() or ("", "", ""))[2],
                "title": article.title,
                "department": "Compliance",
                "team": "Compliance",
                "employmentType": "FullTime",
                "location": "Remote",
                "publishedAt": _when(article.reported, "%Y-%m-%dT%H:%M:%S.000+00:00"),
                "isListed": True,
                "isRemote": True,
                "jobUrl": article.url,
                "applyUrl": f"{article.url}/application",
                "descriptionPlain": article.text,
            }
            for article in jobs
        ]
        return 200, {"apiVersion": "1", "jobs": postings}

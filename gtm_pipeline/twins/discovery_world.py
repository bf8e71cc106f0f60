"""The discovery twin's world: articles (company sites, third-party news, Hacker News stories, EDGAR
filings, job postings), how each is searched and rendered as a page, and a synthetic world of
hundreds of companies for the benchmark. :mod:`gtm_pipeline.twins.discovery` serves it over HTTP
in each API's own shape; the web twin serves its pages (``WebTwin(pages=world.pages())``).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import random
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

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

"""The company-site connector: from a domain, the pages that say what a company is doing now.

The home page first; then the about, news / press / blog, careers and team pages, found by the
sitemap's ``lastmod`` (newest first) and by the home page's own links; the newsroom feed by
autodiscovery (``feedparser``); and the public job board the careers page links to (Greenhouse,
Lever, Ashby JSON endpoints) as dated hiring signals. Every page goes through the one fetcher, so
robots.txt, politeness and the SSRF guard hold here too; every page not kept is returned as a
refusal with its reason, never dropped.

Fetched text stays untrusted data: it is stored and quoted, never obeyed.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import feedparser
import lxml.etree

from gtm_pipeline.domain.ids import content_hash
from gtm_pipeline.domain.sources import SourceDoc
from gtm_pipeline.sources.extract import page_content
from gtm_pipeline.sources.fetcher import FEED_TYPES, HTML_TYPES, JSON_TYPES, Fetched, Fetcher, FetchRefused

KINDS = (
    ("careers", re.compile(r"career|jobs|join-us|hiring|work-with-us", re.I)),
    ("team", re.compile(r"team|leadership|management|people|about-us/team|our-board", re.I)),
    ("press", re.compile(r"press|media|newsroom", re.I)),
    ("news", re.compile(r"news|announcement|update", re.I)),
    ("blog", re.compile(r"blog|insights|articles|stories", re.I)),
    ("about", re.compile(r"about|company|who-we-are|mission", re.I)),
)
ATS = (
    ("greenhouse", re.compile(r"^(?:boards|job-boards)\.greenhouse\.io$"), "https://boards-api.greenhouse.io/v1/boards/{token}/jobs"),
    ("lever", re.compile(r"^jobs\.lever\.co$"), "https://api.lever.co/v0/postings/{token}?mode=json"),
    ("ashby", re.compile(r"^jobs\.ashbyhq\.com$"), "https://api.ashbyhq.com/posting-api/job-board/{token}"),
)  # fmt: skip
SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


@dataclass
class SiteVisit:
    """What one visit kept (documents with provenance) and what it did not (refusals)."""

    domain: str
    documents: list[SourceDoc] = field(default_factory=list)
    provenance: dict[str, dict[str, Any]] = field(default_factory=dict)  # source id -> fetch record
    refusals: list[dict[str, str]] = field(default_factory=list)
    people_pages: list[Fetched] = field(default_factory=list)  # team pages, for published contacts


def kind_of(url: str, text: str = "") -> str | None:
    path = urlsplit(url).path
    for kind, pattern in KINDS:
        if pattern.search(path) or (text and pattern.search(text)):
            return kind
    return None


def source_id_of(url: str) -> str:
    """A fetched page's stable source id: ``web/<host><path>`` (scheme, query and fragment dropped)."""
    parts = urlsplit(url)
    return f"web/{parts.hostname}{parts.path.rstrip('/') or '/'}"[:190]


def visit_site(fetcher: Fetcher, domain: str, *, today: dt.date, max_pages: int = 8) -> SiteVisit:
    """Fetch a company's own pages, feed and job board (at most ``max_pages`` pages of its site)."""
    visit = SiteVisit(domain)
    home_url = f"https://{domain}/"
    home = _get(fetcher, visit, home_url, "home", HTML_TYPES, today)
    if home is None:
        return visit
    page, content = home
    candidates = _from_sitemap(fetcher, visit, domain) + [
        (link.url, kind_of(link.url, link.text)) for link in content.links if _same_site(link.url, domain)
    ]
    seen = {page.final_url, home_url}
    picked: list[tuple[str, str]] = []
    for url, kind in candidates:
        if kind is None or url in seen or len(picked) >= max_pages - 1:
            continue
        seen.add(url)
        picked.append((url, kind))
    for url, kind in picked:
        if kind == "team":
            # A team page is read for the people it publishes, and kept nowhere: not as a source
            # (its names would outlive a person's erasure there) and not in the HTTP cache.
            try:
                visit.people_pages.append(fetcher.get(url, accept=HTML_TYPES, cache=False))
            except FetchRefused as refused:
                visit.refusals.append(refused.as_dict())
            continue
        got = _get(fetcher, visit, url, kind, HTML_TYPES, today)
        if got is not None and kind == "careers":
            _job_boards(fetcher, visit, got[1].links, today)
    for feed_url in content.feeds[:1]:
        _feed(fetcher, visit, feed_url, domain, today)
    return visit


def _get(
    fetcher: Fetcher, visit: SiteVisit, url: str, kind: str, accept: tuple[str, ...], today: dt.date
) -> tuple[Fetched, Any] | None:
    try:
        page = fetcher.get(url, accept=accept)
    except FetchRefused as refused:
        visit.refusals.append(refused.as_dict())
        return None
    content = page_content(page, today=today)
    if not content.text:
        visit.refusals.append(
            {"url": url, "refused": "no_text", "detail": "no readable text", "at_url": page.final_url}
        )
        return page, content
    source_id = source_id_of(page.final_url)
    if any(d.source_id == source_id for d in visit.documents):
        return page, content
    visit.documents.append(
        SourceDoc(
            source_id=source_id,
            url=page.final_url,
            kind="about" if kind == "home" else kind,
            title=content.title,
            text=content.text,
            published_on=content.published_on,
            retrieved_at=page.retrieved_at,
            content_hash=content_hash(content.text),
        )
    )
    visit.provenance[source_id] = {**page.provenance(), "date_source": content.date_source}
    return page, content


def _same_site(url: str, domain: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host == domain or host == f"www.{domain}"


def _from_sitemap(fetcher: Fetcher, visit: SiteVisit, domain: str) -> list[tuple[str, str | None]]:
    """Pages the sitemap lists, newest ``lastmod`` first (a sitemap index is not followed)."""
    try:
        page = fetcher.get(f"https://{domain}/sitemap.xml", accept=(*FEED_TYPES, "text/plain"))
    except FetchRefused as refused:
        if refused.reason != "http_404":
            visit.refusals.append(refused.as_dict())
        return []
    try:
        root = lxml.etree.fromstring(
            page.text.encode("utf-8"), parser=lxml.etree.XMLParser(resolve_entities=False, no_network=True)
        )
    except lxml.etree.XMLSyntaxError as exc:
        visit.refusals.append(
            {"url": page.url, "refused": "malformed", "detail": str(exc)[:200], "at_url": page.final_url}
        )
        return []
    entries = []
    for node in root.iter(f"{SITEMAP_NS}url"):
        loc = (node.findtext(f"{SITEMAP_NS}loc") or "").strip()
        lastmod = (node.findtext(f"{SITEMAP_NS}lastmod") or "").strip()
        if loc and _same_site(loc, domain):
            entries.append((lastmod, loc))
    entries.sort(reverse=True)
    return [(loc, kind_of(loc)) for _lastmod, loc in entries]


def _feed(fetcher: Fetcher, visit: SiteVisit, url: str, domain: str, today: dt.date) -> None:
    try:
        page = fetcher.get(url, accept=(*FEED_TYPES, *HTML_TYPES))
    except FetchRefused as refused:
        visit.refusals.append(refused.as_dict())
        return
    parsed = feedparser.parse(page.text)
    for entry in parsed.entries[:10]:
        link = str(entry.get("link") or "")
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        published = dt.date(*stamp[:3]) if stamp else None
        if not link or published is None or published > today:
            continue
        summary = " ".join(str(entry.get("summary") or "").split())
        text = f"{entry.get('title', '')}. {summary}".strip()
        source_id = source_id_of(link)
        if any(d.source_id == source_id for d in visit.documents):
            continue  # the page itself was fetched: it carries more than the feed's summary
        visit.documents.append(
            SourceDoc(
                source_id=source_id,
                url=link,
                kind="news",
                title=str(entry.get("title") or ""),
                text=text,
                published_on=published,
                retrieved_at=page.retrieved_at,
                content_hash=content_hash(text),
            )
        )
        visit.provenance[source_id] = {**page.provenance(), "date_source": "feed", "feed": url}


def _job_boards(fetcher: Fetcher, visit: SiteVisit, links: tuple[Any, ...], today: dt.date) -> None:
    for link in links:
        parts = urlsplit(link.url)
        token = parts.path.strip("/").split("/")[0]
        for name, host, api in ATS:
            if token and host.match(parts.hostname or ""):
                _jobs(fetcher, visit, name, api.format(token=token), link.url, today)
                return


def _jobs(fetcher: Fetcher, visit: SiteVisit, board: str, api: str, board_url: str, today: dt.date) -> None:
    """The open roles of a public job board, as one dated hiring document."""
    try:
        page = fetcher.get(api, accept=JSON_TYPES)
        data = json.loads(page.text)
    except FetchRefused as refused:
        visit.refusals.append(refused.as_dict())
        return
    except json.JSONDecodeError as exc:
        visit.refusals.append(
            {"url": api, "refused": "malformed", "detail": f"not JSON: {exc}", "at_url": api}
        )
        return
    jobs = _job_list(board, data)
    dated = [(d, title, place) for d, title, place in jobs if d is not None and d <= today]
    if not dated:
        return
    lines = [
        f"{title} ({place}), posted or updated {d.isoformat()}"
        for d, title, place in sorted(dated, reverse=True)
    ]
    text = f"Open roles on the {board.title()} job board: " + "; ".join(lines) + "."
    source_id = source_id_of(board_url)
    visit.documents.append(
        SourceDoc(
            source_id=source_id,
            url=board_url,
            kind="careers",
            title=f"Open roles ({board.title()})",
            text=text,
            published_on=max(d for d, _t, _p in dated),
            retrieved_at=page.retrieved_at,
            content_hash=content_hash(text),
        )
    )
    visit.provenance[source_id] = {**page.provenance(), "date_source": board, "api": api}


def _job_list(board: str, data: Any) -> list[tuple[dt.date | None, str, str]]:
    """(date, title, location) of each posting, whatever the board's JSON shape."""
    if board in ("greenhouse", "ashby"):
        items: Any = data.get("jobs") if isinstance(data, dict) else []
        date_key = "updated_at" if board == "greenhouse" else "publishedAt"
    else:
        items, date_key = data, "createdAt"
    if not isinstance(items, list):
        return []  # a board whose JSON is not the documented shape: nothing to read
    found = []
    for item in items[:50]:
        if not isinstance(item, dict):
            continue
        title = str(item.get("title") or item.get("text") or "").strip()
        location = item.get("location")
        place = (
            str(location.get("name") if isinstance(location, dict) else location or "").strip()
            or "location not given"
        )
        found.append((_any_date(item.get(date_key)), title, place))
    return [f for f in found if f[1]]


def _any_date(value: Any) -> dt.date | None:
    if isinstance(value, (int, float)):  # Lever: milliseconds since the epoch
        try:
            return dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC).date()
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None

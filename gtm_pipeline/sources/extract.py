"""From a fetched page to what the pipeline keeps: main text, title, a publication date, links.

``trafilatura`` finds the main text (navigation and boilerplate dropped); the date is taken, in
order of trust, from JSON-LD ``datePublished`` (``extruct``), then the OpenGraph
``article:published_time`` the page declares, then ``htmldate``'s reading of the page, bounded by
the injected clock's today so a page can never be "published" in the future. OpenGraph's
``og:title`` and ``og:description`` stand in when the page gives no title, or no readable text (a
page rendered by script often carries only those): they are the site's own words about the page.
Links and feed autodiscovery come from ``lxml``. Fetched text remains untrusted data: nothing
here interprets it, it is only cut to what a reader would see.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import extruct
import htmldate
import lxml.html
import trafilatura

from gtm_pipeline.sources.fetcher import HTML_TYPES, Fetched

FEED_LINK_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json")


@dataclass(frozen=True)
class Link:
    url: str
    text: str


@dataclass(frozen=True)
class PageContent:
    """The readable part of one page."""

    title: str
    text: str
    published_on: dt.date | None
    date_source: str  # "json-ld", "opengraph", "htmldate" or "none"
    links: tuple[Link, ...] = ()
    feeds: tuple[str, ...] = ()
    organization: str | None = None
    about_urls: tuple[str, ...] = ()  # JSON-LD ``about`` / ``mentions`` organizations' own sites
    description: str = ""  # ``og:description`` (else ``<meta name=description>``): the site's summary


def page_content(fetched: Fetched, *, today: dt.date) -> PageContent:
    """The main text, title, date and links of ``fetched`` (plain text is taken as it is)."""
    if fetched.content_type not in HTML_TYPES:
        return PageContent(title="", text=fetched.text.strip(), published_on=None, date_source="none")
    html = fetched.text
    base = fetched.final_url
    structured = _structured(html, base)
    extracted = trafilatura.bare_extraction(
        html,
        url=base,
        with_metadata=True,
        include_comments=False,
        date_extraction_params={"max_date": today.isoformat(), "original_date": True},
    )
    title = ""
    text = ""
    if extracted is not None:
        title = str(getattr(extracted, "title", "") or "")
        text = str(getattr(extracted, "text", "") or "")
    tree = _tree(html)
    meta = _meta(tree) if tree is not None else {}
    if not title:
        title = meta.get("og:title") or (tree.findtext(".//title") or "" if tree is not None else "")
    published, source = _published(structured, meta, html, today)
    links, feeds = _links(tree, base) if tree is not None else ((), ())
    return PageContent(
        title=title.strip(),
        text=text.strip(),
        published_on=published,
        date_source=source,
        links=links,
        feeds=feeds,
        organization=_organization(structured),
        about_urls=_about_urls(structured),
        description=" ".join((meta.get("og:description") or meta.get("description") or "").split()),
    )


def _tree(html: str) -> lxml.html.HtmlElement | None:
    try:
        return lxml.html.fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return None


def _structured(html: str, base: str) -> list[dict[str, object]]:
    try:
        data = extruct.extract(html, base_url=base, syntaxes=["json-ld"], uniform=True)
    except (ValueError, TypeError, json.JSONDecodeError, lxml.etree.ParserError):
        return []  # broken JSON-LD is common; the page text is still read
    found: list[dict[str, object]] = []
    for item in data.get("json-ld", []):
        if isinstance(item, dict):
            graph = item.get("@graph")
            if isinstance(graph, list):
                found.extend(g for g in graph if isinstance(g, dict))
            found.append(item)
    return found


def _types(item: dict[str, object]) -> set[str]:
    kind = item.get("@type")
    return {str(k) for k in kind} if isinstance(kind, list) else {str(kind)}


def _meta(tree: lxml.html.HtmlElement) -> dict[str, str]:
    """The page's ``<meta property|name=... content=...>`` values (the first of each name)."""
    found: dict[str, str] = {}
    for node in tree.iter("meta"):
        name = (node.get("property") or node.get("name") or "").strip().lower()
        content = (node.get("content") or "").strip()
        if name and content:
            found.setdefault(name, content)
    return found


def _published(
    structured: list[dict[str, object]], meta: dict[str, str], html: str, today: dt.date
) -> tuple[dt.date | None, str]:
    for item in structured:
        if _types(item) & {"NewsArticle", "Article", "BlogPosting", "PressRelease", "JobPosting"}:
            raw = item.get("datePublished") or item.get("datePosted")
            parsed = _date(str(raw)) if raw else None
            if parsed is not None and parsed <= today:
                return parsed, "json-ld"
    declared = _date(meta.get("article:published_time", ""))
    if declared is not None and declared <= today:
        return declared, "opengraph"
    found = htmldate.find_date(html, original_date=True, extensive_search=False, max_date=today.isoformat())
    parsed = _date(found) if found else None
    return (parsed, "htmldate") if parsed is not None else (None, "none")


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None


def _organization(structured: list[dict[str, object]]) -> str | None:
    for item in structured:
        if _types(item) & {"Organization", "Corporation", "MedicalOrganization", "LocalBusiness"}:
            name = item.get("name")
            if isinstance(name, str) and name.strip():
                return name.strip()
    return None


def _about_urls(structured: list[dict[str, object]]) -> tuple[str, ...]:
    """The sites of the organizations an article says it is about (``about`` / ``mentions``): how a
    third party's news page names the company it reports on."""
    found: list[str] = []
    for item in structured:
        for key in ("about", "mentions"):
            value = item.get(key)
            for thing in value if isinstance(value, list) else [value]:
                if isinstance(thing, dict) and isinstance(thing.get("url"), str):
                    found.append(str(thing["url"]))
    return tuple(dict.fromkeys(found))


def _links(tree: lxml.html.HtmlElement, base: str) -> tuple[tuple[Link, ...], tuple[str, ...]]:
    links: dict[str, Link] = {}
    for anchor in tree.iter("a"):
        href = (anchor.get("href") or "").strip()
        if not href or href.startswith(("#", "javascript:")):
            continue
        try:
            url = urljoin(base, href).split("#")[0]
            scheme = urlsplit(url).scheme
        except ValueError:
            continue  # a broken href ("http://[x") is one bad link, not a failed page
        if scheme in ("http", "https", "mailto") and url not in links:
            links[url] = Link(url, " ".join(anchor.text_content().split()))
    feeds = []
    for link in tree.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        if "alternate" in rel and (link.get("type") or "").lower() in FEED_LINK_TYPES and link.get("href"):
            try:
                feeds.append(urljoin(base, link.get("href", "")))
            except ValueError:
                continue
    return tuple(links.values()), tuple(dict.fromkeys(feeds))

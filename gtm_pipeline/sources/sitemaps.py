"""The pages a site's sitemaps list, newest ``lastmod`` first.

Where the sitemaps are is the site's own word: the ``Sitemap:`` lines of its robots.txt (RFC 9309
§2.2.4 lets a site name any number, anywhere), else the conventional ``/sitemap.xml``. A large site
publishes a sitemap *index* of child sitemaps; the index is followed one level (the protocol
forbids nesting), newest child first, and the number of sitemap files read per visit is bounded,
so a site with a thousand child sitemaps costs a few requests, and the rest is recorded as skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import lxml.etree

from gtm_pipeline.sources.fetcher import FEED_TYPES, Fetcher, FetchRefused
from gtm_pipeline.sources.robots import RobotsFile
from gtm_pipeline.sources.site_visit import SiteVisit

MAX_SITEMAPS = 6  # sitemap files read per visit, an index's children included
XML_TYPES = (*FEED_TYPES, "text/plain")


@dataclass(frozen=True)
class _Queued:
    """A sitemap to read, and what its absence or its being an index would mean."""

    url: str
    named: bool  # named by robots.txt or an index (a 404 is news), or only guessed (it is not)
    nested: bool  # listed by an index: an index found here is not followed further


def sitemap_pages(fetcher: Fetcher, visit: SiteVisit, site_url: str) -> list[str]:
    """The site's own pages its sitemaps list, newest ``lastmod`` first (undated last)."""
    listed = robots_sitemaps(fetcher, site_url)
    queue = [_Queued(url, True, False) for url in listed] or [
        _Queued(urljoin(site_url, "/sitemap.xml"), False, False)
    ]
    entries: list[tuple[str, str]] = []
    seen: set[str] = set()
    unread: list[str] = []
    while queue:
        item = queue.pop(0)
        if item.url in seen:
            continue
        seen.add(item.url)
        if len(seen) - len(unread) > MAX_SITEMAPS:  # this one would be one too many
            unread.append(item.url)
            continue
        root = _read(fetcher, visit, item)
        if root is None:
            continue
        if _local(root) == "sitemapindex":
            queue.extend(_children(visit, item, root))
        else:
            entries.extend(_urls(root, visit))
    _record_unread(visit, unread)
    entries.sort(key=lambda entry: entry[0], reverse=True)  # stable: ties keep the sitemap's order
    return list(dict.fromkeys(loc for _lastmod, loc in entries))


def _record_unread(visit: SiteVisit, unread: list[str]) -> None:
    """One record for every sitemap over the bound (an index can name thousands)."""
    if unread:
        detail = f"{len(unread)} more sitemaps not read (at most {MAX_SITEMAPS} per visit)"
        visit.skipped(unread[0], "over_budget", detail)


def robots_sitemaps(fetcher: Fetcher, site_url: str) -> list[str]:
    """The ``Sitemap:`` lines of the site's robots.txt (already read for its home page)."""
    robots = fetcher.read_robots(site_url)
    if not isinstance(robots, RobotsFile) or robots.parser is None:
        return []
    found = []
    for line in robots.parser.sitemaps:
        url = urljoin(site_url, str(line).strip())
        if urlsplit(url).scheme in ("http", "https"):
            found.append(url)
    return list(dict.fromkeys(found))


def _read(fetcher: Fetcher, visit: SiteVisit, item: _Queued) -> lxml.etree._Element | None:
    """The parsed sitemap, or None with the reason recorded (entities and network never resolved:
    a sitemap is untrusted XML)."""
    if urlsplit(item.url).path.endswith(".gz"):
        visit.skipped(item.url, "content_type", "a gzipped sitemap is not read (no request made)")
        return None
    try:
        page = fetcher.get(item.url, accept=XML_TYPES)
    except FetchRefused as refused:
        if item.named or refused.reason != "http_404":  # no /sitemap.xml at all is not news
            visit.refused(refused)
        return None
    try:
        parser = lxml.etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
        return lxml.etree.fromstring(page.text.encode("utf-8"), parser=parser)
    except lxml.etree.XMLSyntaxError as exc:
        visit.skipped(item.url, "malformed", str(exc)[:200], page.final_url)
        return None


def _local(node: lxml.etree._Element) -> str:
    """An element's name without its namespace: sitemaps in the wild omit or vary it."""
    tag = node.tag
    return lxml.etree.QName(tag).localname if isinstance(tag, str) else ""


def _fields(node: lxml.etree._Element) -> tuple[str, str]:
    """(lastmod, loc) of one ``<url>`` or ``<sitemap>`` element."""
    values = {_local(child): (child.text or "").strip() for child in node}
    return values.get("lastmod", ""), values.get("loc", "")


def _children(visit: SiteVisit, index: _Queued, root: lxml.etree._Element) -> list[_Queued]:
    """An index's child sitemaps, newest first; an index listed by an index is not followed."""
    if index.nested:
        visit.skipped(index.url, "over_budget", "a sitemap index inside a sitemap index is not followed")
        return []
    listed = [_fields(node) for node in root if _local(node) == "sitemap"]
    listed.sort(key=lambda entry: entry[0], reverse=True)  # newest first; ties keep the index's order
    return [_Queued(urljoin(index.url, loc), True, True) for _lastmod, loc in listed if loc]


def _urls(root: lxml.etree._Element, visit: SiteVisit) -> list[tuple[str, str]]:
    """(lastmod, loc) of the entries that are pages of this site (a sitemap may list others)."""
    found = []
    for node in root:
        if _local(node) != "url":
            continue
        lastmod, loc = _fields(node)
        if loc and visit.of_site(loc):
            found.append((lastmod, loc))
    return found

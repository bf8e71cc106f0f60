"""The company-site connector: from a domain, the pages that say what a company is doing now.

The home page first (at ``www.`` + domain when the bare domain does not answer); then the about,
news / press / blog, careers and team pages, found by the sitemaps (``sources/sitemaps.py``:
robots.txt's ``Sitemap:`` lines, indexes followed) newest ``lastmod`` first, and by the home page's
own links; the newsroom feeds by autodiscovery (``sources/feeds.py``); and the public job boards
the careers or home page links to (``sources/job_boards.py``) as dated hiring signals. Every page
goes through the one fetcher, so robots.txt, politeness and the SSRF guard hold here too.

The page budget is small (a visit per company, at one request per second per host), so the pages
that make a company profile (about, careers, team) each have a slot reserved: a site whose
sitemap lists a hundred blog posts still has those read. Every page not kept, and every page left
over the budget, is recorded with its reason (``SiteVisit.refusals``), never dropped.

Fetched text stays untrusted data: it is stored and quoted, never obeyed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from gtm_pipeline.domain.ids import content_hash
from gtm_pipeline.domain.sources import SourceDoc
from gtm_pipeline.sources.extract import Link, PageContent, page_content
from gtm_pipeline.sources.feeds import read_feeds
from gtm_pipeline.sources.fetcher import HTML_TYPES, Fetched, Fetcher, FetchRefused, origin_of
from gtm_pipeline.sources.job_boards import Board, boards_linked, read_boards
from gtm_pipeline.sources.site_visit import SiteVisit, source_id_of
from gtm_pipeline.sources.sitemaps import sitemap_pages

__all__ = ["KINDS", "PROFILE_KINDS", "SiteVisit", "kind_of", "pick_pages", "source_id_of", "visit_site"]

KINDS = (
    ("careers", re.compile(r"career|jobs|join-us|hiring|work-with-us", re.I)),
    ("team", re.compile(r"team|leadership|management|people|about-us/team|our-board", re.I)),
    ("press", re.compile(r"press|media|newsroom", re.I)),
    ("news", re.compile(r"news|announcement|update", re.I)),
    ("blog", re.compile(r"blog|insights|articles|stories", re.I)),
    ("about", re.compile(r"about|company|who-we-are|mission", re.I)),
)
PROFILE_KINDS = ("about", "careers", "team")  # one slot each, whatever the volume of news
MAX_PAGES = 8  # pages of the site per visit, the home page included
# A home page that did not answer (no name, no connection, an error status, a redirect loop) is
# tried at www. + domain; a robots.txt "no" or a guard refusal is an answer, and is not worked around.
WWW_WORTH_TRYING = ("unreachable", "timeout", "too_many_redirects")

Candidate = tuple[str, str]  # (url, kind)


def kind_of(url: str, text: str = "") -> str | None:
    """What a page is, by its path (or its link's text): None for pages that are not read."""
    path = urlsplit(url).path
    for kind, pattern in KINDS:
        if pattern.search(path) or (text and pattern.search(text)):
            return kind
    return None


def visit_site(fetcher: Fetcher, domain: str, *, today: dt.date, max_pages: int = MAX_PAGES) -> SiteVisit:
    """Fetch a company's own pages, feeds and job boards (at most ``max_pages`` pages of its site).

    The careers page is read first, so its job boards can be read beside the rest of the site:
    the boards are on hosts many companies share (one request at a time each, with a pause), and
    their wait then overlaps the pauses between this site's own pages instead of adding to them.
    """
    visit = SiteVisit(domain)
    home = _home(fetcher, visit, domain)
    if home is None:
        return visit
    content = _keep_page(visit, home, "home", today)
    picked, left = pick_pages(_candidates(fetcher, visit, home.final_url, content), max_pages - 1)
    if left:
        _record_over_budget(visit, left, max_pages)
    links: list[Link] = []
    for url, kind in [c for c in picked if c[1] == "careers"]:
        got = _get(fetcher, visit, url, kind, today)
        links.extend(got.links if got is not None else ())
    boards = boards_linked([*links, *content.links])
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="job-boards") as aside:
        on_boards = aside.submit(_read_boards_aside, fetcher, domain, boards, today) if boards else None
        for url, kind in [c for c in picked if c[1] != "careers"]:
            _read(fetcher, visit, url, kind, today)
        read_feeds(fetcher, visit, content.feeds, today)
        if on_boards is not None:
            visit.merge(on_boards.result())  # after the site's own records: the same order every time
    return visit


def _read_boards_aside(fetcher: Fetcher, domain: str, boards: list[Board], today: dt.date) -> SiteVisit:
    """The job boards, read into a visit of their own (one writer per visit, merged at the end)."""
    aside = SiteVisit(domain)
    read_boards(fetcher, aside, boards, today)
    return aside


def _read(fetcher: Fetcher, visit: SiteVisit, url: str, kind: str, today: dt.date) -> None:
    """One picked page: a team page for its people only, any other as a source."""
    if kind == "team":
        _people_page(fetcher, visit, url)
    else:
        _get(fetcher, visit, url, kind, today)


def pick_pages(candidates: list[Candidate], budget: int) -> tuple[list[Candidate], list[Candidate]]:
    """(pages to read, pages left over) within ``budget``: first a slot for each profile kind (its
    shallowest page: ``/about`` rather than ``/about/press-kit``), then the others in the order
    given (newest first); the pages keep the order given."""
    reserved: list[Candidate] = []
    for kind in PROFILE_KINDS:
        of_kind = [c for c in candidates if c[1] == kind]
        if of_kind:
            reserved.append(min(of_kind, key=lambda c: _depth(c[0])))  # min is stable: first wins
    reserved = reserved[: max(budget, 0)]
    others = [c for c in candidates if c not in reserved]
    chosen = set(reserved + others[: max(budget - len(reserved), 0)])
    picked = [c for c in candidates if c in chosen]
    return picked, [c for c in candidates if c not in chosen]


def _depth(url: str) -> int:
    """Path segments: the site's own about page sits higher than an article about it."""
    return len([s for s in urlsplit(url).path.split("/") if s])


def _home(fetcher: Fetcher, visit: SiteVisit, domain: str) -> Fetched | None:
    """The home page, at the bare domain or, when that does not answer, at www. + domain."""
    tries = [domain] if domain.startswith("www.") else [domain, f"www.{domain}"]
    for host in tries:
        url = f"https://{host}/"
        try:
            page = fetcher.get(url, accept=HTML_TYPES)
        except FetchRefused as refused:
            fallback = host != tries[-1] and _www_worth_trying(refused)
            visit.refused(refused, f"trying https://{tries[-1]}/ instead" if fallback else "")
            if fallback:
                continue
            return None
        visit.site_url = origin_of(page.final_url) + "/"
        visit.hosts.add((urlsplit(page.final_url).hostname or "").lower())
        return page
    return None


def _www_worth_trying(refused: FetchRefused) -> bool:
    """A failure to answer, or an error status (but not 429: "slow down" is not asked twice)."""
    status = refused.reason.startswith("http_") and refused.reason != "http_429"
    return refused.reason in WWW_WORTH_TRYING or status


def _candidates(fetcher: Fetcher, visit: SiteVisit, home_url: str, home: PageContent) -> list[Candidate]:
    """The site's pages that may be read, with their kind: the sitemaps' (newest first), then the
    home page's links; each URL once, the home page itself not again."""
    found = [(url, kind_of(url)) for url in sitemap_pages(fetcher, visit, visit.site_url)]
    found += [(link.url, kind_of(link.url, link.text)) for link in home.links if visit.of_site(link.url)]
    seen = {home_url, visit.site_url, visit.site_url.rstrip("/")}
    picked: list[Candidate] = []
    for url, kind in found:
        if kind is not None and url not in seen:
            seen.add(url)
            picked.append((url, kind))
    return picked


def _record_over_budget(visit: SiteVisit, left: list[Candidate], max_pages: int) -> None:
    """One record for all the pages left over (a sitemap can list thousands: not one each)."""
    by_kind = Counter(kind for _url, kind in left)
    kinds = ", ".join(f"{kind} {n}" for kind, n in by_kind.most_common())
    examples = ", ".join(url for url, _kind in left[:3])
    detail = f"{len(left)} more pages not read (budget {max_pages} pages per visit): {kinds}; e.g. {examples}"
    visit.skipped(visit.site_url, "over_budget", detail)


def _people_page(fetcher: Fetcher, visit: SiteVisit, url: str) -> None:
    """A team page is read for the people it publishes, and kept nowhere: not as a source (its
    names would outlive a person's erasure there) and not in the HTTP cache."""
    try:
        visit.people_pages.append(fetcher.get(url, accept=HTML_TYPES, cache=False))
    except FetchRefused as refused:
        visit.refused(refused)


def _get(fetcher: Fetcher, visit: SiteVisit, url: str, kind: str, today: dt.date) -> PageContent | None:
    """Fetch and keep one page; its content (for its links) even when it has no text to keep."""
    try:
        page = fetcher.get(url, accept=HTML_TYPES)
    except FetchRefused as refused:
        visit.refused(refused)
        return None
    return _keep_page(visit, page, kind, today)


def _keep_page(visit: SiteVisit, page: Fetched, kind: str, today: dt.date) -> PageContent:
    """Extract ``page`` and keep it as a source; a page without text is recorded, not kept.
    When the page has no readable text but declares a description (``og:description``), that is
    kept instead, and the provenance says so."""
    content = page_content(page, today=today)
    text, text_source = (content.text, "page") if content.text else (content.description, "description")
    if not text:
        visit.skipped(page.url, "no_text", "no readable text", page.final_url)
        return content
    doc = SourceDoc(
        source_id=source_id_of(page.final_url),
        url=page.final_url,
        kind="about" if kind == "home" else kind,
        title=content.title,
        text=text,
        published_on=content.published_on,
        retrieved_at=page.retrieved_at,
        content_hash=content_hash(text),
    )
    provenance = {**page.provenance(), "date_source": content.date_source}
    visit.keep(doc, provenance if text_source == "page" else {**provenance, "text_source": text_source})
    return content

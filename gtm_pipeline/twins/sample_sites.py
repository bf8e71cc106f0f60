"""The bundled sample companies as websites, for the web twin: ``gtm demo`` reads them through the
real fetcher (robots.txt, sitemap, links, feed, extraction, dates), offline.

Each company of the sample corpus becomes one site on its own domain:

- ``/``: the company's about page (what a home page says about a company), linking to every other
  page and announcing its news feed;
- each other corpus document at its own path, as an article; a dated one carries its date as
  JSON-LD ``datePublished`` (NewsArticle, or BlogPosting for posts), the way real newsrooms do;
- ``/sitemap.xml`` with each page's ``lastmod``, ``/feed.xml`` (RSS) with the dated pages, and a
  ``/robots.txt`` that allows everything and names the sitemap.

**Dates move with the clock.** The corpus is a snapshot taken on ``snapshot_at``; served as the web,
its pages are as old on the day they are fetched as they were on the snapshot's day (every date moves
by the days since the snapshot, the dates written in the prose too: "on 15 October 2026" reads
"on 30 October 2026" fifteen days later). So the demo qualifies the same companies on any date, while
recency is still judged by the pipeline against the day of retrieval, as on the real web.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from email.utils import format_datetime
from html import escape
from xml.sax.saxutils import escape as xml_escape

from gtm_pipeline.domain.sources import SourceDoc
from gtm_pipeline.sources.corpus import SampleCorpus

POSTS = ("post", "blog")
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
PROSE_DATE = re.compile(r"\b(\d{1,2}) (" + "|".join(MONTHS) + r") (\d{4})\b")


def sample_sites(corpus: SampleCorpus, *, today: dt.date) -> dict[str, dict[str, bytes]]:
    """``{host: {path: body}}`` for every company domain of the corpus, dated as of ``today``."""
    shift = today - corpus.as_of
    sites: dict[str, dict[str, bytes]] = {}
    for domain in sorted({c.domain for c in corpus.candidates()}):
        name = next(c.name for c in corpus.candidates() if c.domain == domain)
        docs = corpus.fetch(domain)
        sites[domain] = _site(domain, name, docs, shift)
    return sites


def _moved(doc: SourceDoc, shift: dt.timedelta) -> dt.date | None:
    return doc.published_on + shift if doc.published_on is not None else None


def _moved_prose(text: str, shift: dt.timedelta) -> str:
    """``text`` with every "15 October 2026" moved by ``shift``, so a page agrees with its own date."""

    def move(match: re.Match[str]) -> str:
        day = dt.date(int(match[3]), MONTHS.index(match[2]) + 1, int(match[1])) + shift
        return f"{day.day} {MONTHS[day.month - 1]} {day.year}"

    return PROSE_DATE.sub(move, text) if shift else text


def _site(domain: str, name: str, docs: list[SourceDoc], shift: dt.timedelta) -> dict[str, bytes]:
    about = next((d for d in docs if d.kind == "about"), None)
    pages = [d for d in docs if d is not about]
    base = f"https://{domain}"
    site: dict[str, bytes] = {}
    nav = "".join(f'<li><a href="{escape(_path(d))}">{escape(d.title)}</a></li>' for d in pages)
    home_body = (
        _paragraphs(_moved_prose(about.text, shift)) if about is not None else f"<p>{escape(name)}.</p>"
    )
    site["/"] = _html(
        title=about.title if about is not None else name,
        head='<link rel="alternate" type="application/rss+xml" title="News" href="/feed.xml">'
        + _json_ld({"@context": "https://schema.org", "@type": "Organization", "name": name, "url": base}),
        body=f"<main><article>{home_body}</article></main><footer><nav><ul>{nav}</ul></nav></footer>",
    )
    for doc in pages:
        published = _moved(doc, shift)
        head = ""
        if published is not None:
            kind = "BlogPosting" if doc.kind in POSTS else "NewsArticle"
            head = _json_ld(
                {
                    "@context": "https://schema.org",
                    "@type": kind,
                    "headline": doc.title,
                    "datePublished": published.isoformat(),
                    "publisher": {"@type": "Organization", "name": name},
                }
            )
        site[_path(doc)] = _html(
            title=doc.title,
            head=head,
            body=f"<main><article>{_paragraphs(_moved_prose(doc.text, shift))}</article></main>",
        )
    site["/sitemap.xml"] = _sitemap(base, pages, shift)
    site["/feed.xml"] = _feed(base, name, pages, shift)
    site["/robots.txt"] = f"User-agent: *\nAllow: /\n\nSitemap: {base}/sitemap.xml\n".encode()
    return site


def _path(doc: SourceDoc) -> str:
    path = doc.url.split("://", 1)[-1]
    return "/" + path.split("/", 1)[1] if "/" in path else "/"


def _paragraphs(text: str) -> str:
    """Markdown-ish paragraphs (blank-line separated; ``- `` items as a list) as HTML."""
    out: list[str] = []
    for block in text.strip().split("\n\n"):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        if not lines:
            continue
        if all(line.startswith(("- ", "* ")) for line in lines):
            out.append("<ul>" + "".join(f"<li>{escape(line[2:])}</li>" for line in lines) + "</ul>")
        elif lines[0].startswith("#"):
            out.append(f"<h2>{escape(lines[0].lstrip('#').strip())}</h2>")
            if lines[1:]:
                out.append(f"<p>{escape(' '.join(lines[1:]))}</p>")
        else:
            out.append(f"<p>{escape(' '.join(lines))}</p>")
    return "".join(out)


def _json_ld(data: dict[str, object]) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def _html(*, title: str, head: str, body: str) -> bytes:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title>{head}</head><body>{body}</body></html>"
    ).encode()


def _sitemap(base: str, pages: list[SourceDoc], shift: dt.timedelta) -> bytes:
    urls = []
    for doc in pages:
        published = _moved(doc, shift)
        lastmod = f"<lastmod>{published.isoformat()}</lastmod>" if published else ""
        urls.append(f"<url><loc>{xml_escape(base + _path(doc))}</loc>{lastmod}</url>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">' + "".join(urls) + "</urlset>"
    ).encode()


def _feed(base: str, name: str, pages: list[SourceDoc], shift: dt.timedelta) -> bytes:
    items = []
    for doc in sorted(pages, key=lambda d: d.published_on or dt.date.min, reverse=True):
        published = _moved(doc, shift)
        if published is None:
            continue
        stamp = format_datetime(dt.datetime.combine(published, dt.time(9), tzinfo=dt.UTC))
        items.append(
            f"<item><title>{xml_escape(doc.title)}</title><link>{xml_escape(base + _path(doc))}</link>"
            f"<pubDate>{stamp}</pubDate></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{xml_escape(name)} news</title><link>{xml_escape(base)}/</link>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()

"""Reading the page a discovery hit points at, so its quote and date are checked against the page
itself, never taken on a search API's word.

Two readers with one shape: :class:`WebReader` fetches through the one polite, SSRF-guarded
fetcher and extracts text and date; :class:`SnapshotReader` reads the sample corpus's snapshot of a
page (the offline default, with fetching off). Both keep what they read for the length of one
discovery pass, so many hits on one page cost one fetch.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Protocol

from gtm_pipeline.domain.ids import content_hash
from gtm_pipeline.domain.sources import SourceDoc
from gtm_pipeline.sources.corpus import SampleCorpus
from gtm_pipeline.sources.extract import page_content
from gtm_pipeline.sources.fetcher import HTML_TYPES, TEXT_TYPES, Fetcher, FetchRefused
from gtm_pipeline.sources.site import source_id_of


@dataclass(frozen=True)
class ReadPage:
    """A page as read: its text and date, the organizations it says it is about, and provenance."""

    doc: SourceDoc
    date_source: str
    organization: str | None = None
    about_urls: tuple[str, ...] = ()
    provenance: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Unread:
    """A page that was not read, and why (the fetcher's refusal reason)."""

    url: str
    reason: str
    detail: str = ""


class PageReader(Protocol):
    def read(self, url: str, *, kind: str, today: dt.date) -> ReadPage | Unread: ...


class WebReader:
    """Reads pages through the fetcher (robots.txt, politeness, the SSRF guard, the HTTP cache)."""

    def __init__(self, fetcher: Fetcher) -> None:
        self.fetcher = fetcher
        self._seen: dict[str, ReadPage | Unread] = {}

    def read(self, url: str, *, kind: str, today: dt.date) -> ReadPage | Unread:
        if url not in self._seen:
            self._seen[url] = self._read(url, kind, today)
        return self._seen[url]

    def _read(self, url: str, kind: str, today: dt.date) -> ReadPage | Unread:
        try:
            page = self.fetcher.get(url, accept=(*TEXT_TYPES,))
        except FetchRefused as refused:
            return Unread(url, refused.reason, refused.detail)
        content = page_content(page, today=today)
        if not content.text:
            return Unread(url, "no_text", "no readable text")
        doc = SourceDoc(
            source_id=source_id_of(page.final_url),
            url=page.final_url,
            kind=kind,
            title=content.title,
            text=content.text if page.content_type in HTML_TYPES else content.text[:20_000],
            published_on=content.published_on,
            retrieved_at=page.retrieved_at,
            content_hash=content_hash(content.text),
        )
        return ReadPage(
            doc,
            content.date_source,
            content.organization,
            content.about_urls,
            {**page.provenance(), "date_source": content.date_source},
        )


class SnapshotReader:
    """Reads the sample corpus's snapshot of a page: fetching off, nothing leaves the machine."""

    def __init__(self, corpus: SampleCorpus) -> None:
        self.by_url = {
            doc.url: doc for candidate in corpus.candidates() for doc in corpus.fetch(candidate.domain)
        }

    def read(self, url: str, *, kind: str, today: dt.date) -> ReadPage | Unread:
        doc = self.by_url.get(url)
        if doc is None:
            return Unread(url, "not_in_snapshot", "fetching is off and the sample corpus has no copy")
        return ReadPage(doc, "snapshot" if doc.published_on else "none")

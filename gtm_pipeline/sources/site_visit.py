"""What one visit of a company's site kept, and what it did not keep and why.

Every part of the site connector (pages, sitemaps, feeds, job boards) writes to one
:class:`SiteVisit`, so the rule "nothing is dropped without a reason" is enforced in one place: a
fetch the fetcher refused, an entry with no date, a page left out of the budget, each is a record
with a reason, which the research step journals (``fetch_refused``) and ``gtm status`` counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from gtm_pipeline.domain.sources import SourceDoc
from gtm_pipeline.sources.fetcher import Fetched, FetchRefused


def source_id_of(url: str) -> str:
    """A fetched page's stable source id: ``web/<host><path>`` (scheme, query and fragment dropped)."""
    parts = urlsplit(url)
    return f"web/{parts.hostname}{parts.path.rstrip('/') or '/'}"[:190]


@dataclass
class SiteVisit:
    """What one visit kept (documents with provenance) and what it did not (refusals and skips)."""

    domain: str
    documents: list[SourceDoc] = field(default_factory=list)
    provenance: dict[str, dict[str, Any]] = field(default_factory=dict)  # source id -> fetch record
    refusals: list[dict[str, str]] = field(default_factory=list)
    people_pages: list[Fetched] = field(default_factory=list)  # team pages, for published contacts
    site_url: str = ""  # the home page read: https://<domain>/, or its www. fallback
    hosts: set[str] = field(default_factory=set)  # the names the site answers on (pages of the site)

    def __post_init__(self) -> None:
        """A site answers on its bare and its www. name; a redirect target is added when read."""
        self.hosts |= {self.domain, f"www.{self.domain}"}

    def of_site(self, url: str) -> bool:
        """Whether ``url`` is a page of this company's own site (not a link to somebody else's)."""
        return (urlsplit(url).hostname or "").lower() in self.hosts

    def refused(self, refusal: FetchRefused, note: str = "") -> None:
        """The fetcher would not fetch (or keep) a URL: recorded with its reason."""
        record = refusal.as_dict()
        if note:
            record["detail"] = f"{record['detail']}; {note}" if record["detail"] else note
        self.refusals.append(record)

    def skipped(self, url: str, reason: str, detail: str, at_url: str | None = None) -> None:
        """Something fetched, or found, that is not kept (undated, over a budget): recorded, so a
        reader of the journal sees why a page, an entry or a posting is missing."""
        self.refusals.append({"url": url, "refused": reason, "detail": detail, "at_url": at_url or url})

    def has(self, source_id: str) -> bool:
        """Whether a document with this source id is kept (a page, a feed entry, a board)."""
        return source_id in self.provenance or any(d.source_id == source_id for d in self.documents)

    def keep(self, doc: SourceDoc, provenance: dict[str, Any]) -> bool:
        """Keep ``doc`` unless a document with its source id is already kept (the first wins: a page
        read in full carries more than a feed's summary of it)."""
        if self.has(doc.source_id):
            return False
        self.documents.append(doc)
        self.provenance[doc.source_id] = provenance
        return True

    def merge(self, other: SiteVisit) -> None:
        """Add what another visit of this site kept and recorded (a part read on another thread)."""
        for doc in other.documents:
            self.keep(doc, other.provenance[doc.source_id])
        self.refusals.extend(other.refusals)
        self.people_pages.extend(other.people_pages)

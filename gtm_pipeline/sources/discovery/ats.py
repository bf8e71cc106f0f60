"""Public job boards (keyless): Greenhouse, Lever and Ashby, one board per query.

A query of kind ``jobs`` names its board: ``Query.board`` (or, when that is None, ``Query.text``)
is ``"<ats>:<token>[@<company domain>]"``, such as ``"greenhouse:acmehealth@acme-health.example"``;
``Query.keywords`` are the words a job title must contain (any one of them, whole words,
case-folded; none: every job). ``Query.text`` may also carry them after a bar, for callers that
only have a string: ``"greenhouse:acmehealth@acme-health.example|compliance analyst,grc"``.

- Greenhouse: ``GET https://boards-api.greenhouse.io/v1/boards/{token}/jobs`` ->
  ``{"jobs": [{"id", "title", "absolute_url", "updated_at", "first_published", "location"}]}``;
- Lever: ``GET https://api.lever.co/v0/postings/{token}?mode=json`` -> ``[{"id", "text",
  "hostedUrl", "createdAt" (ms since the epoch), "categories"}]``;
- Ashby: ``GET https://api.ashbyhq.com/posting-api/job-board/{token}`` -> ``{"jobs": [{"id",
  "title", "jobUrl", "publishedAt", "isListed"}]}``.

One hit per matching job, dated by when it was first published (Greenhouse: ``first_published``,
else ``updated_at``), inside the query's window; the quote is the job's title; the kind is
``hiring``; the company's domain is the one the board spec names.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from gtm_pipeline.domain.signals import Hit, Query, QueryKind
from gtm_pipeline.sources.discovery.base import SourceFailed
from gtm_pipeline.sources.discovery.http import JsonClient, epoch_date, iso_date, malformed, required

ATS = "ats"
ATS_RATE_PER_S = 2.0
BOARD_APIS = {
    "greenhouse": "https://boards-api.greenhouse.io/v1/boards/{token}/jobs",
    "lever": "https://api.lever.co/v0/postings/{token}",
    "ashby": "https://api.ashbyhq.com/posting-api/job-board/{token}",
}
_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class BoardSpec:
    ats: str
    token: str
    domain: str | None = None
    keywords: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str, keywords: tuple[str, ...] = ()) -> BoardSpec:
        """``greenhouse:acmehealth@acme-health.example|compliance analyst,grc``; ValueError if not."""
        spec, _, words = text.partition("|")
        ats, sep, rest = spec.strip().partition(":")
        token, _, domain = rest.partition("@")
        ats, token, domain = ats.strip().lower(), token.strip(), domain.strip().lower()
        if not sep or ats not in BOARD_APIS or not _TOKEN.match(token):
            raise ValueError(f"{text!r}: expected <greenhouse|lever|ashby>:<token>[@domain]")
        listed = tuple(w.strip() for w in words.split(",") if w.strip())
        return cls(ats, token, domain or None, keywords or listed)

    def matches(self, title: str) -> bool:
        if not self.keywords:
            return True
        folded = " ".join(title.lower().split())
        return any(
            re.search(rf"(?<![\w-]){re.escape(' '.join(w.lower().split()))}(?![\w-])", folded)
            for w in self.keywords
        )


@dataclass(frozen=True)
class Posting:
    title: str
    url: str
    published: dt.date | None


class AtsSource:
    """:class:`~gtm_pipeline.sources.discovery.base.DiscoverySource` over public ATS job boards."""

    name = ATS
    kinds: frozenset[QueryKind] = frozenset({"jobs"})
    paid = False

    def __init__(self, http: JsonClient) -> None:
        self.http = http

    def cost_usd(self, query: Query) -> float:
        return 0.0

    def search(self, query: Query) -> list[Hit]:
        try:
            board = BoardSpec.parse(query.board or query.text, query.keywords)
        except ValueError as exc:
            raise SourceFailed(self.name, "bad_query", str(exc)) from None
        url = BOARD_APIS[board.ats].format(token=board.token)
        params: dict[str, str | int] = {"mode": "json"} if board.ats == "lever" else {}
        data = self.http.get_json(url, params)
        postings = getattr(self, f"_{board.ats}")(data)
        hits = []
        for posting in postings:
            if not board.matches(posting.title):
                continue
            if posting.published is not None and not query.since <= posting.published <= query.until:
                continue
            hits.append(
                Hit(
                    source=self.name,
                    query=query.text,
                    url=posting.url,
                    title=posting.title,
                    quote=posting.title,
                    published_on=posting.published,
                    company_domain=board.domain,
                    kind_hint="hiring",
                )
            )
        return hits[: query.limit]

    def _jobs(self, data: Any) -> list[Any]:
        if not isinstance(data, dict) or not isinstance(data.get("jobs"), list):
            raise malformed(self.name, "no 'jobs' list")
        return list(data["jobs"])

    def _greenhouse(self, data: Any) -> list[Posting]:
        return [
            Posting(
                " ".join(required(self.name, job, "title").split()),
                required(self.name, job, "absolute_url"),
                iso_date(job.get("first_published")) or iso_date(job.get("updated_at")),
            )
            for job in self._jobs(data)
        ]

    def _lever(self, data: Any) -> list[Posting]:
        if not isinstance(data, list):
            raise malformed(self.name, "expected a list of postings")
        return [
            Posting(
                " ".join(required(self.name, job, "text").split()),
                required(self.name, job, "hostedUrl"),
                epoch_date(job["createdAt"] / 1000) if isinstance(job.get("createdAt"), int) else None,
            )
            for job in data
        ]

    def _ashby(self, data: Any) -> list[Posting]:
        return [
            Posting(
                " ".join(required(self.name, job, "title").split()),
                required(self.name, job, "jobUrl"),
                iso_date(job.get("publishedAt")),
            )
            for job in self._jobs(data)
            if not isinstance(job, dict) or job.get("isListed", True) is not False
        ]

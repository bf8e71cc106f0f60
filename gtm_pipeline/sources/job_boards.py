"""Public job boards a company links to (Greenhouse, Lever, Ashby), read as dated hiring signals.

A careers page usually links to a hosted board rather than listing roles itself; each of these
boards has a public, unauthenticated JSON endpoint that says what the board page says, with dates.
One board becomes one ``careers`` document dated by its newest posting, its text one line per
role ("title (location), posted or updated DATE"), so a draft can quote the role it refers to.

Each API has its own shape (documented by the vendors):

- Greenhouse ``/v1/boards/<token>/jobs``: ``{"jobs": [{"title", "location": {"name"},
  "updated_at", "absolute_url"}]}``;
- Lever ``/v0/postings/<site>?mode=json``: ``[{"text", "categories": {"location", "team",
  "commitment"}, "createdAt": <ms since the epoch>, "hostedUrl"}]``;
- Ashby ``/posting-api/job-board/<board>``: ``{"jobs": [{"title", "location", "isRemote",
  "isListed", "publishedAt", "jobUrl"}]}``.

A posting without a date, dated in the future, or unlisted is not kept, and is recorded as such.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from gtm_pipeline.domain.ids import content_hash
from gtm_pipeline.domain.sources import SourceDoc
from gtm_pipeline.sources.extract import Link
from gtm_pipeline.sources.fetcher import JSON_TYPES, Fetcher, FetchRefused
from gtm_pipeline.sources.site_visit import SiteVisit, source_id_of

MAX_BOARDS = 3  # boards read per visit (a company rarely has more than one; a page can link many)
MAX_POSTINGS = 50  # newest postings listed in a board's document


@dataclass(frozen=True)
class Board:
    """One hosted job board: which vendor, its public page, and its JSON endpoint."""

    vendor: str
    url: str  # the board's own page: the document's URL and source id
    api: str


@dataclass(frozen=True)
class Posting:
    """One role as the board lists it, whatever the vendor's field names."""

    title: str
    place: str
    on: dt.date | None
    listed: bool = True


ENDPOINTS = (
    ("greenhouse", re.compile(r"^(?:boards|job-boards)\.greenhouse\.io$"), "https://boards-api.greenhouse.io/v1/boards/{token}/jobs"),
    ("lever", re.compile(r"^jobs\.lever\.co$"), "https://api.lever.co/v0/postings/{token}?mode=json"),
    ("lever", re.compile(r"^jobs\.eu\.lever\.co$"), "https://api.eu.lever.co/v0/postings/{token}?mode=json"),
    ("ashby", re.compile(r"^jobs\.ashbyhq\.com$"), "https://api.ashbyhq.com/posting-api/job-board/{token}"),
)  # fmt: skip


def board_of(url: str) -> Board | None:
    """The board ``url`` points into (its page or one of its postings), or None."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    segments = [s for s in parts.path.split("/") if s]
    token = segments[0] if segments else ""
    if token == "embed":  # Greenhouse's embedded board: boards.greenhouse.io/embed/job_board?for=<token>
        token = (parse_qs(parts.query).get("for") or [""])[0]
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,100}", token):
        return None
    for vendor, pattern, api in ENDPOINTS:
        if pattern.match(host):
            return Board(vendor, f"https://{host}/{token}", api.format(token=token))
    return None


def boards_linked(links: Iterable[Link]) -> list[Board]:
    """The distinct boards among ``links``, in page order."""
    found: dict[str, Board] = {}
    for link in links:
        board = board_of(link.url)
        if board is not None:
            found.setdefault(board.api, board)
    return list(found.values())


def read_boards(fetcher: Fetcher, visit: SiteVisit, boards: list[Board], today: dt.date) -> None:
    """Read the first :data:`MAX_BOARDS` boards; any others are recorded as not read."""
    for board in boards[:MAX_BOARDS]:
        _read(fetcher, visit, board, today)
    for board in boards[MAX_BOARDS:]:
        visit.skipped(board.url, "over_budget", f"job board not read: at most {MAX_BOARDS} per site")


def _read(fetcher: Fetcher, visit: SiteVisit, board: Board, today: dt.date) -> None:
    """One board's endpoint, read and kept as a document, or its refusal recorded."""
    try:
        page = fetcher.get(board.api, accept=JSON_TYPES)
        data = json.loads(page.text)
    except FetchRefused as refused:
        visit.refused(refused)
        return
    except json.JSONDecodeError as exc:
        visit.skipped(board.api, "malformed", f"not JSON: {exc}")
        return
    postings = PARSERS[board.vendor](data)
    if postings is None:
        visit.skipped(board.api, "malformed", f"not the documented {board.vendor.title()} shape")
        return
    kept = _dated(visit, board, postings, today)
    if kept:
        doc = _document(board, kept, page.retrieved_at)
        visit.keep(doc, {**page.provenance(), "date_source": board.vendor, "api": board.api})


def _document(board: Board, kept: list[Posting], retrieved_at: dt.datetime) -> SourceDoc:
    """The board as one dated document: a line per role, dated by the newest."""
    lines = [f"{p.title} ({p.place}), posted or updated {p.on}" for p in kept]
    text = f"Open roles on the {board.vendor.title()} job board: " + "; ".join(lines) + "."
    return SourceDoc(
        source_id=source_id_of(board.url),
        url=board.url,
        kind="careers",
        title=f"Open roles ({board.vendor.title()})",
        text=text,
        published_on=max(p.on for p in kept if p.on is not None),
        retrieved_at=retrieved_at,
        content_hash=content_hash(text),
    )


def _dated(visit: SiteVisit, board: Board, postings: list[Posting], today: dt.date) -> list[Posting]:
    """The listed postings dated up to today, newest first (at most :data:`MAX_POSTINGS`); every
    other one recorded, grouped by reason, so a board's missing roles are accounted for."""
    left_out: dict[str, list[str]] = {}
    kept: list[Posting] = []
    for posting in postings:
        if not posting.listed:
            left_out.setdefault("unlisted", []).append(posting.title)
        elif posting.on is None:
            left_out.setdefault("undated", []).append(posting.title)
        elif posting.on > today:
            left_out.setdefault("future_date", []).append(f"{posting.title} ({posting.on})")
        else:
            kept.append(posting)
    kept.sort(key=lambda p: (p.on, p.title), reverse=True)
    if len(kept) > MAX_POSTINGS:
        left_out["over_budget"] = [f"{p.title} ({p.on})" for p in kept[MAX_POSTINGS:]]
    for reason, titles in left_out.items():
        shown = "; ".join(titles[:5]) + ("; …" if len(titles) > 5 else "")
        detail = f"{len(titles)} postings {WHY[reason]}: {shown}"
        visit.skipped(board.api, reason, detail, board.url)
    return kept[:MAX_POSTINGS]


WHY = {
    "unlisted": "marked unlisted by the company",
    "undated": "without a date (a hiring signal is only as good as its date)",
    "future_date": "dated after today",
    "over_budget": f"older than the newest {MAX_POSTINGS} listed",
}


def _greenhouse(data: Any) -> list[Posting] | None:
    """Greenhouse's postings; None when the JSON is not its documented shape."""
    items = data.get("jobs") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return None
    return [
        Posting(_title(item.get("title")), _place(item.get("location")), _date(item.get("updated_at")))
        for item in items
        if isinstance(item, dict) and _title(item.get("title"))
    ]


def _lever(data: Any) -> list[Posting] | None:
    """Lever's postings: the place is ``categories.location`` (else ``allLocations``)."""
    if not isinstance(data, list):
        return None
    found = []
    for item in data:
        if not isinstance(item, dict) or not _title(item.get("text")):
            continue
        raw = item.get("categories")
        categories: dict[str, Any] = raw if isinstance(raw, dict) else {}
        place = categories.get("location") or ", ".join(
            str(p) for p in categories.get("allLocations") or [] if p
        )
        found.append(Posting(_title(item.get("text")), _place(place), _millis(item.get("createdAt"))))
    return found


def _ashby(data: Any) -> list[Posting] | None:
    """Ashby's postings: ``isListed: false`` roles are kept out (the company hides them)."""
    items = data.get("jobs") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return None
    found = []
    for item in items:
        if not isinstance(item, dict) or not _title(item.get("title")):
            continue
        place = _place(item.get("location"))
        if item.get("isRemote") is True and "remote" not in place.lower():
            place = f"{place}, remote"
        listed = item.get("isListed") is not False
        found.append(Posting(_title(item.get("title")), place, _date(item.get("publishedAt")), listed))
    return found


PARSERS: dict[str, Callable[[Any], list[Posting] | None]] = {
    "greenhouse": _greenhouse,
    "lever": _lever,
    "ashby": _ashby,
}


def _title(value: Any) -> str:
    """A role's title on one line, bounded (board JSON is untrusted input)."""
    return " ".join(str(value or "").split())[:200]


def _place(value: Any) -> str:
    """A location as a board gives it: a string, or Greenhouse's ``{"name": ...}``."""
    name = value.get("name") if isinstance(value, dict) else value
    return " ".join(str(name or "").split())[:120] or "location not given"


def _millis(value: Any) -> dt.date | None:
    """Lever's ``createdAt``: milliseconds since the epoch, as a UTC date."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC).date()
    except (OverflowError, OSError, ValueError):
        return None


def _date(value: Any) -> dt.date | None:
    """An ISO 8601 date or timestamp's calendar date, as the board wrote it."""
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None

"""Dates written in mail, resolved against the date the mail was received (pure).

"Back on May 5th", "circle back in Q3", "after the new year", "in two months": a
follow-up or a revisit must land on a concrete date, decided by plain code from the
reply's own date, so replay gives the same date years later.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

MONTHS: dict[str, int] = {}
for _number in range(1, 13):
    MONTHS[calendar.month_name[_number].lower()] = _number
    MONTHS[calendar.month_abbr[_number].lower()] = _number
MONTHS.update(
    {
        "sept": 9,
        # German, French, Spanish, Portuguese, Italian, Dutch: the common spellings
        "januar": 1,
        "februar": 2,
        "märz": 3,
        "maerz": 3,
        "mai": 5,
        "juni": 6,
        "juli": 7,
        "oktober": 10,
        "dezember": 12,
        "janvier": 1,
        "février": 2,
        "fevrier": 2,
        "mars": 3,
        "avril": 4,
        "juin": 6,
        "juillet": 7,
        "août": 8,
        "aout": 8,
        "septembre": 9,
        "octobre": 10,
        "novembre": 11,
        "décembre": 12,
        "enero": 1,
        "febrero": 2,
        "marzo": 3,
        "abril": 4,
        "mayo": 5,
        "junio": 6,
        "julio": 7,
        "agosto": 8,
        "septiembre": 9,
        "octubre": 10,
        "noviembre": 11,
        "diciembre": 12,
        "maart": 3,
        "mei": 5,
    }
)
_MONTH_ALT = "|".join(sorted((re.escape(m) for m in MONTHS), key=len, reverse=True))
_NUMBER_WORDS = {
    "one": 1,
    "a": 1,
    "an": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "a couple of": 2,
    "a few": 3,
    "couple of": 2,
    "few": 3,
    "nine": 9,
    "twelve": 12,
}

_ISO_RE = re.compile(r"\b(20\d\d)-(\d\d)-(\d\d)\b")
_MONTH_DAY_RE = re.compile(
    rf"\b({_MONTH_ALT})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(20\d\d))?", re.IGNORECASE
)
_DAY_MONTH_RE = re.compile(
    rf"\b(\d{{1,2}})(?:st|nd|rd|th|\.)?\s+(?:of\s+)?({_MONTH_ALT})\b\.?(?:,?\s+(20\d\d))?", re.IGNORECASE
)
_NUMERIC_RE = re.compile(r"\b(\d{1,2})[./](\d{1,2})(?:[./](20\d\d|\d\d))?\b")
_QUARTER_RE = re.compile(
    r"\b(?:q([1-4])|(first|second|third|fourth) quarter)\b(?:\s+(?:of\s+)?(20\d\d))?", re.I
)
_RELATIVE_RE = re.compile(
    r"\bin\s+(\d+|one|two|three|four|five|six|nine|twelve|a couple of|a few|a|an)\s+"
    r"(day|week|month|year)s?\b",
    re.IGNORECASE,
)
_MONTH_ONLY_RE = re.compile(
    rf"\b(?:in|after|until|around|by|from|end of|early|late|mid)[\s-]+({_MONTH_ALT})\b(?:\s+(20\d\d))?",
    re.IGNORECASE,
)
_QUARTER_WORDS = {"first": 1, "second": 2, "third": 3, "fourth": 4}


def _safe(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _next_occurrence(month: int, day: int, year: int | None, after: dt.date) -> dt.date | None:
    if year is not None:
        return _safe(year, month, day)
    candidate = _safe(after.year, month, day)
    if candidate is not None and candidate < after:
        candidate = _safe(after.year + 1, month, day)
    return candidate


def explicit_dates(text: str, received: dt.date) -> list[dt.date]:
    """Every calendar date written in ``text``, with missing years resolved forward from ``received``."""
    found: list[dt.date] = []
    for m in _ISO_RE.finditer(text):
        if (d := _safe(int(m[1]), int(m[2]), int(m[3]))) is not None:
            found.append(d)
    for m in _MONTH_DAY_RE.finditer(text):
        d = _next_occurrence(MONTHS[m[1].lower()], int(m[2]), int(m[3]) if m[3] else None, received)
        if d is not None:
            found.append(d)
    for m in _DAY_MONTH_RE.finditer(text):
        d = _next_occurrence(MONTHS[m[2].lower()], int(m[1]), int(m[3]) if m[3] else None, received)
        if d is not None:
            found.append(d)
    for m in _NUMERIC_RE.finditer(text):
        # Day first (the world's majority); the US order only when the day-first reading is impossible.
        year = int(m[3]) + (2000 if m[3] and len(m[3]) == 2 else 0) if m[3] else None
        a, b = int(m[1]), int(m[2])
        d = _next_occurrence(b, a, year, received) if b <= 12 else _next_occurrence(a, b, year, received)
        if d is not None:
            found.append(d)
    return found


def return_date(text: str, received: dt.date, horizon_days: int = 180) -> dt.date | None:
    """The return date an out-of-office gives: the latest written date within the horizon."""
    window = [
        d for d in explicit_dates(text, received) if received < d <= received + dt.timedelta(horizon_days)
    ]
    return max(window) if window else None


def _add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _quarter_start(quarter: int, year: int | None, received: dt.date) -> dt.date:
    start = dt.date(year or received.year, 3 * (quarter - 1) + 1, 1)
    if year is None and start <= received:
        start = dt.date(received.year + 1, start.month, 1)
    return start


def revisit_date(text: str, received: dt.date) -> dt.date | None:
    """When a not-now reply asks to be contacted again, resolved against its received date."""
    lowered = text.lower()
    if (m := _QUARTER_RE.search(lowered)) is not None:
        quarter = int(m[1]) if m[1] else _QUARTER_WORDS[m[2]]
        return _quarter_start(quarter, int(m[3]) if m[3] else None, received)
    if "next quarter" in lowered:
        current = (received.month - 1) // 3 + 1
        return _quarter_start(current % 4 + 1, received.year + (current == 4), received)
    if re.search(r"next year|new year|in the new year|beginning of (next )?year", lowered):
        return dt.date(received.year + 1, 1, 1)
    if "next month" in lowered:
        return _add_months(received.replace(day=1), 1)
    if "next week" in lowered:
        return received + dt.timedelta(days=7)
    if re.search(r"end of (the )?year|year[- ]end", lowered):
        return dt.date(received.year, 12, 1) if received.month < 12 else dt.date(received.year + 1, 1, 1)
    if (m := _RELATIVE_RE.search(lowered)) is not None:
        count = int(m[1]) if m[1].isdigit() else _NUMBER_WORDS[m[1]]
        unit = m[2]
        if unit == "day":
            return received + dt.timedelta(days=count)
        if unit == "week":
            return received + dt.timedelta(weeks=count)
        return _add_months(received, count * (12 if unit == "year" else 1))
    if (m := _MONTH_ONLY_RE.search(lowered)) is not None:
        return _next_occurrence(MONTHS[m[1]], 1, int(m[2]) if m[2] else None, received + dt.timedelta(days=1))
    later = [d for d in explicit_dates(text, received) if d > received]
    return min(later) if later else None

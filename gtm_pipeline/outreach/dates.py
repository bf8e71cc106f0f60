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
        # Italian, Dutch, Portuguese
        "gennaio": 1,
        "febbraio": 2,
        "aprile": 4,
        "maggio": 5,
        "giugno": 6,
        "luglio": 7,
        "settembre": 9,
        "ottobre": 10,
        "dicembre": 12,
        "januari": 1,
        "februari": 2,
        "augustus": 8,
        "janeiro": 1,
        "fevereiro": 2,
        "março": 3,
        "maio": 5,
        "junho": 6,
        "julho": 7,
        "setembro": 9,
        "outubro": 10,
        "dezembro": 12,
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
    rf"\b(\d{{1,2}})(?:st|nd|rd|th|er|\.)?\s+(?:of\s+|"
    rf"de\s+)?({_MONTH_ALT})\b\.?(?:,?\s+(?:de\s+)?(20\d\d))?",
    re.IGNORECASE,
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
    if re.search(
        r"next quarter|nächste[sn]? quartal|prochain trimestre|trimestre prochain|próximo trimestre", lowered
    ):
        current = (received.month - 1) // 3 + 1
        return _quarter_start(current % 4 + 1, received.year + (current == 4), received)
    if re.search(
        r"next year|new year|in the new year|beginning of (next )?year", lowered
    ) or _NEXT_YEAR_RE.search(lowered):
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
    if (m := _MONTH_ONLY_RE.search(lowered) or _MONTH_BACK_RE.search(lowered)) is not None:
        return _next_occurrence(MONTHS[m[1]], 1, int(m[2]) if m[2] else None, received + dt.timedelta(days=1))
    later = [d for d in explicit_dates(text, received) if d > received]
    return min(later) if later else None


_NEXT_YEAR_RE = re.compile(
    r"nächste[sn]? jahr|kommende[sn]? jahr|l'année prochaine|l'an prochain|"
    r"(?:el )?próximo año|el año que viene|l'anno prossimo|volgend jaar|no próximo ano",
    re.IGNORECASE,
)
WEEKDAYS: dict[str, int] = {}
for _index, _names in enumerate(
    (
        ("monday", "montag", "lundi", "lunes", "lunedì", "maandag"),
        ("tuesday", "dienstag", "mardi", "martes", "martedì", "dinsdag"),
        ("wednesday", "mittwoch", "mercredi", "miércoles", "miercoles", "mercoledì", "woensdag"),
        ("thursday", "donnerstag", "jeudi", "jueves", "giovedì", "donderdag"),
        ("friday", "freitag", "vendredi", "viernes", "venerdì", "vrijdag"),
        ("saturday", "samstag", "samedi", "sábado", "sabato", "zaterdag"),
        ("sunday", "sonntag", "dimanche", "domingo", "domenica", "zondag"),
    )
):
    for _name in _names:
        WEEKDAYS[_name] = _index
WEEKDAY_ALT = "|".join(sorted(WEEKDAYS, key=len, reverse=True))
_WEEKDAY_RE = re.compile(rf"\b({WEEKDAY_ALT})\b", re.IGNORECASE)
# "until the 14th", "bis zum 14.", "jusqu'au 14", "hasta el 14": a day of a month left unsaid.
_DAY_ONLY_RE = re.compile(
    r"\b(?:until|till|til|back on|back|from|on|by|after)\s+the\s+(\d{1,2})(?:st|nd|rd|th)\b|"
    r"\b(?:bis|ab|am)\s+(?:zum\s+|dem\s+)?(\d{1,2})\.(?!\d)|"
    r"\b(?:jusqu'au|jusqu\u2019au|dès le|à partir du|le)\s+(\d{1,2})(?:er)?\b|"
    r"\b(?:hasta el|a partir del|el día)\s+(\d{1,2})\b",
    re.IGNORECASE,
)
# A month alone, in more languages than ``_MONTH_ONLY_RE``: "back in June", "bis Juni", "jusqu'en juin".
_MONTH_BACK_RE = re.compile(
    rf"\b(?:in|after|until|till|by|from|bis|ab|im|nach|jusqu'en|jusqu\u2019en|en|hasta|desde|a partir de|"
    rf"fino a|a|tot|até)"
    rf"\s+(?:early\s+|mid[- ]|late\s+|anfang\s+|mitte\s+|début\s+|"
    rf"principios de\s+)?({_MONTH_ALT})\b(?:\s+(20\d\d))?",
    re.IGNORECASE,
)
_ABSENCE_RELATIVE_RE = re.compile(
    r"\b(?:for|in|back in)\s+(\d+|one|two|three|four|five|six|a couple of|a few|a|an)\s+(day|week|"
    r"month)s?\b|"
    r"\b(?:für|in)\s+(\d+|zwei|drei|vier)\s+(tag|woche|monat)(?:e|en)?\b|"
    r"\b(?:pendant|dans)\s+(\d+|deux|trois|quatre)\s+(jour|semaine|mois)s?\b|"
    r"\b(?:durante|en)\s+(\d+|dos|tres|cuatro)\s+(día|dia|semana|mes)(?:s|es)?\b",
    re.IGNORECASE,
)
_ABSENCE_NUMBERS = {
    **_NUMBER_WORDS,
    "zwei": 2,
    "drei": 3,
    "vier": 4,
    "deux": 2,
    "trois": 3,
    "quatre": 4,
    "dos": 2,
}
_ABSENCE_NUMBERS.update({"tres": 3, "cuatro": 4})
_ABSENCE_UNITS = {"day": 1, "tag": 1, "jour": 1, "día": 1, "dia": 1, "week": 7, "woche": 7, "semaine": 7}
_ABSENCE_UNITS.update({"semana": 7})


def _next_day_of_month(day: int, received: dt.date) -> dt.date | None:
    """The next date after ``received`` falling on ``day`` of a month (this month or the next ones)."""
    year, month = received.year, received.month
    for _ in range(3):
        candidate = _safe(year, month, day)
        if candidate is not None and candidate > received:
            return candidate
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return None


def absence_return(text: str, received: dt.date, horizon_days: int = 270) -> dt.date | None:
    """The day an absence notice says its writer is back, resolved against ``received``.

    Human-typed notices are vaguer than auto-replies ("on leave, back in June", "out until the
    14th", "back Monday"), so after the explicit dates of :func:`return_date` come, in order:
    a month alone (its first day), a weekday (the next one), a day of the month alone (its next
    occurrence), then a duration ("for two weeks"). None when the notice names no time at all.
    """
    explicit = return_date(text, received, horizon_days)
    if explicit is not None:
        return explicit
    if (m := _MONTH_BACK_RE.search(text)) is not None:
        return _next_occurrence(
            MONTHS[m[1].lower()], 1, int(m[2]) if m[2] else None, received + dt.timedelta(days=1)
        )
    if (m := _WEEKDAY_RE.search(text)) is not None:
        ahead = (WEEKDAYS[m[1].lower()] - received.weekday()) % 7 or 7
        return received + dt.timedelta(days=ahead)
    if (m := _DAY_ONLY_RE.search(text)) is not None:
        day = next(int(g) for g in m.groups() if g)
        return _next_day_of_month(day, received)
    if (m := _ABSENCE_RELATIVE_RE.search(text)) is not None:
        groups = [g for g in m.groups() if g]
        count_word, unit = groups[0].lower(), groups[1].lower()
        count = int(count_word) if count_word.isdigit() else _ABSENCE_NUMBERS.get(count_word, 1)
        if unit in _ABSENCE_UNITS:
            return received + dt.timedelta(days=count * _ABSENCE_UNITS[unit])
        return _add_months(received, count)
    return None

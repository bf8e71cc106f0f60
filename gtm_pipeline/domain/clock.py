"""The one source of time: an injectable clock, so time-based rules, replay and dry runs share one
code path, and the suite gives the same answer on any date.

This module is the only place that reads the wall clock (ruff's banned-API rule enforces it).
Everything else asks a :class:`Clock` it was given.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the current time (always timezone-aware, UTC)."""

    def now(self) -> dt.datetime: ...


class SystemClock:
    """The wall clock."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


def _aware(at: dt.datetime) -> dt.datetime:
    if at.tzinfo is None:
        raise ValueError("a clock needs a timezone-aware datetime")
    return at.astimezone(dt.UTC)


class FixedClock:
    """A clock stopped at one instant: for tests, replays and dry runs."""

    def __init__(self, at: dt.datetime) -> None:
        self._at = _aware(at)

    def now(self) -> dt.datetime:
        return self._at


class ManualClock:
    """A clock moved by hand: a rehearsal simulates days by setting it, so every write of a simulated
    day carries that day's time (never a mix of simulated and wall-clock times)."""

    def __init__(self, at: dt.datetime) -> None:
        self._at = _aware(at)

    def now(self) -> dt.datetime:
        return self._at

    def set(self, at: dt.datetime) -> None:
        moved = _aware(at)
        if moved < self._at:
            raise ValueError(f"a manual clock only moves forward ({moved} < {self._at})")
        self._at = moved


_OFFSET = re.compile(r"^(?P<sign>[+-])(?P<n>\d+(?:\.\d+)?)(?P<unit>[mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def resolve_moment(text: str, now: dt.datetime) -> dt.datetime:
    """A moment named on the command line: ``now``, an offset from now (``+400d``, ``-2w``, ``+36h``,
    ``+90m``), or an ISO 8601 time (UTC when it has no zone). Relative forms keep examples true on
    any date."""
    value = text.strip()
    if value.lower() == "now":
        return now
    offset = _OFFSET.match(value)
    if offset:
        amount = float(offset["n"]) * (1 if offset["sign"] == "+" else -1)
        return now + dt.timedelta(**{_UNITS[offset["unit"]]: amount})
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"not a time: {text!r} (use an ISO 8601 time like 2027-01-15T09:00Z, or an offset like +400d)"
        ) from None
    return moment.astimezone(dt.UTC) if moment.tzinfo else moment.replace(tzinfo=dt.UTC)

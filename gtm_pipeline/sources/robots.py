"""robots.txt per RFC 9309, parsed by ``protego``.

The RFC's rules for an unreadable file are what keep a crawler welcome: a 4xx (no file) means
everything is allowed; a 5xx or an unreachable server means *nothing* is (the site may be
overloaded, and a crawler must not guess); a file is cached for at most 24 hours. The decision
for every URL is recorded with the document, so "why was this fetched" has an answer.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass

from protego import Protego

MAX_CACHE = dt.timedelta(hours=24)
MAX_ROBOTS_BYTES = 500 * 1024  # RFC 9309 §2.5: parse at least 500 KiB


@dataclass(frozen=True)
class RobotsFile:
    """What one origin's robots.txt says, and when it was read."""

    origin: str
    status: str  # "parsed", "absent" (4xx: allow all) or "unavailable" (5xx / unreachable: disallow all)
    read_at: dt.datetime
    parser: Protego | None = None
    detail: str = ""

    def allows(self, url: str, agent: str) -> bool:
        if self.status == "absent":
            return True
        if self.status == "unavailable" or self.parser is None:
            return False
        return bool(self.parser.can_fetch(url, agent))

    def crawl_delay(self, agent: str) -> float | None:
        if self.parser is None:
            return None
        delay = self.parser.crawl_delay(agent)
        return float(delay) if delay is not None else None

    def decision(self, url: str, agent: str) -> str:
        """The words stored with a document: allowed by which kind of file."""
        verdict = "allowed" if self.allows(url, agent) else "disallowed"
        return f"{verdict} ({self.status} robots.txt)"

    @classmethod
    def from_response(cls, origin: str, status: int, body: bytes, read_at: dt.datetime) -> RobotsFile:
        if 200 <= status < 300:
            text = body[:MAX_ROBOTS_BYTES].decode("utf-8", errors="replace")
            return cls(origin, "parsed", read_at, Protego.parse(text))
        if 400 <= status < 500 and status != 429:  # 429 is "slow down", not "no file": like a 5xx
            return cls(origin, "absent", read_at, detail=f"HTTP {status}")
        return cls(origin, "unavailable", read_at, detail=f"HTTP {status}")

    @classmethod
    def unreachable(cls, origin: str, read_at: dt.datetime, detail: str) -> RobotsFile:
        return cls(origin, "unavailable", read_at, detail=detail)


class RobotsCache:
    """One :class:`RobotsFile` per origin, re-read after ``ttl`` (at most 24 hours)."""

    def __init__(self, ttl: dt.timedelta = MAX_CACHE) -> None:
        self.ttl = min(ttl, MAX_CACHE)
        self._files: dict[str, RobotsFile] = {}
        self._lock = threading.Lock()

    def get(self, origin: str, now: dt.datetime) -> RobotsFile | None:
        with self._lock:
            found = self._files.get(origin)
        if found is None or now - found.read_at >= self.ttl or now < found.read_at:
            return None
        return found

    def put(self, robots: RobotsFile) -> None:
        with self._lock:
            self._files[robots.origin] = robots

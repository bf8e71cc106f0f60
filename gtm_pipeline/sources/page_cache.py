"""The fetcher's HTTP cache as the privacy side sees it: a copy of pages that an erasure must reach.

A cached page can name a person (a news item about a new Head of Compliance), and that copy is
held outside the store, where tombstones do not reach. An erasure therefore empties the cache:
every cached page, not only those of the erased person's company, because a person can be named on
any site, and a compressed body cannot be searched for a name. The cost is one full download
instead of a 304 for each page fetched again; erasures are rare, a leaked copy is not acceptable.

Rows are deleted with SQLite's ``secure_delete`` (freed pages are overwritten with zeros) and the
write-ahead log is checkpointed and truncated, so the bytes are gone from the files, not only
unlinked from the index. A fetcher in another process keeps working: the file is never removed.
"""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path

CACHE_FILE = "http-cache.sqlite"


@dataclass(frozen=True)
class Forgotten:
    """What an erasure removed from the cache, and whether the bytes are gone from disk too."""

    pages: int
    compacted: bool


@dataclass(frozen=True)
class PageCache:
    """The HTTP cache file under the fetcher's state folder (``<home>/fetch``)."""

    state_dir: Path

    @property
    def path(self) -> Path:
        return self.state_dir / CACHE_FILE

    def forget_everything(self) -> Forgotten:
        """Remove every cached page, overwriting the freed bytes; idempotent."""
        if not self.path.is_file():
            return Forgotten(0, True)
        with contextlib.closing(sqlite3.connect(self.path, timeout=30.0, isolation_level=None)) as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "entries" not in tables:
                return Forgotten(0, True)
            db.execute("PRAGMA secure_delete = ON")
            db.execute("BEGIN IMMEDIATE")
            try:
                pages = int(db.execute("SELECT count(*) FROM entries").fetchone()[0])
                if "streams" in tables:
                    db.execute("DELETE FROM streams")
                db.execute("DELETE FROM entries")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            busy, _log, _moved = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return Forgotten(pages, busy == 0)

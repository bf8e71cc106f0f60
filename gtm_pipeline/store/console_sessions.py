"""Console sessions and failed logins, kept in the store so every console process agrees.

A signed cookie alone stays valid until it expires, whatever the operator does; holding sessions
here lets logout end one at once and "log out everywhere" end them all. Failed logins are counted
per client (a hash of its address, never the address) so a run of wrong passwords pauses logins
from that client only.

A try is admitted and counted in one transaction that excludes every other try (SQLite's write
lock; a table lock on Postgres), before the password is compared: parallel POSTs cannot all read
"four failures so far" and all go on to guess.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING

import sqlalchemy as sa

from gtm_pipeline.store import schema as t
from gtm_pipeline.store.records import utc

if TYPE_CHECKING:
    from gtm_pipeline.store.unit import Store


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class ConsoleSessions:
    def __init__(self, store: Store) -> None:
        self.store = store

    def start(self, session_id: str, operator: str) -> None:
        """Record a new session (its id is stored hashed: the table never holds a usable cookie)."""
        with self.store.writing() as c:
            c.execute(
                t.console_sessions.insert().values(
                    id=_digest(session_id), operator=operator, issued_at=self.store.now()
                )
            )

    def live(self, session_id: str, max_age: dt.timedelta) -> bool:
        """Whether the session was started here, is not ended and is younger than ``max_age``."""
        with self.store.reading() as c:
            row = c.execute(
                sa.select(t.console_sessions.c.issued_at, t.console_sessions.c.ended_at).where(
                    t.console_sessions.c.id == _digest(session_id)
                )
            ).first()
        if row is None or row.ended_at is not None:
            return False
        return utc(row.issued_at) > self.store.now() - max_age

    def end(self, session_id: str, why: str = "logout") -> bool:
        with self.store.writing() as c:
            ended = c.execute(
                t.console_sessions.update()
                .where(
                    t.console_sessions.c.id == _digest(session_id), t.console_sessions.c.ended_at.is_(None)
                )
                .values(ended_at=self.store.now(), ended_why=why)
            )
        return ended.rowcount == 1

    def end_all(self, why: str = "logout_everywhere") -> int:
        """End every open session (a lost laptop, a shared screen): returns how many were open."""
        with self.store.writing() as c:
            ended = c.execute(
                t.console_sessions.update()
                .where(t.console_sessions.c.ended_at.is_(None))
                .values(ended_at=self.store.now(), ended_why=why)
            )
        return int(ended.rowcount)

    def admit_attempt(
        self,
        client: str,
        window: dt.timedelta,
        wait_for: Callable[[int, list[dt.datetime]], float],
        keep: dt.timedelta = dt.timedelta(days=1),
    ) -> float:
        """Let ``client`` try a password, or not, atomically: ``wait_for(failures from every client,
        this client's failure times)`` within ``window`` says how long it must wait; when that is 0
        the try is recorded as a failure at once, before the password is checked (the caller clears
        the failures when it was right). Returns the wait (0: admitted)."""
        f = t.console_login_failures
        now = self.store.now()
        digest = _digest(client)
        with self.store.writing() as c:
            if c.dialect.name == "postgresql":  # SQLite's BEGIN IMMEDIATE already excludes other writers
                c.execute(sa.text("LOCK TABLE console_login_failures IN SHARE ROW EXCLUSIVE MODE"))
            c.execute(f.delete().where(f.c.failed_at < now - keep))
            since = now - window
            anywhere = int(c.execute(sa.select(sa.func.count()).where(f.c.failed_at >= since)).scalar_one())
            mine = [
                utc(r.failed_at)
                for r in c.execute(
                    sa.select(f.c.failed_at)
                    .where(f.c.client == digest, f.c.failed_at >= since)
                    .order_by(f.c.failed_at)
                )
            ]
            wait = wait_for(anywhere, mine)
            if wait > 0:
                return wait
            c.execute(f.insert().values(client=digest, failed_at=now))
        return 0.0

    def failures_since(self, client: str, since: dt.datetime) -> list[dt.datetime]:
        """When ``client`` got the password wrong since ``since``, oldest first."""
        f = t.console_login_failures
        with self.store.reading() as c:
            rows = c.execute(
                sa.select(f.c.failed_at)
                .where(f.c.client == _digest(client), f.c.failed_at >= since)
                .order_by(f.c.failed_at)
            )
            return [utc(r.failed_at) for r in rows]

    def failures_anywhere_since(self, since: dt.datetime) -> int:
        """Wrong passwords from every client since ``since`` (the ceiling for rotating addresses)."""
        f = t.console_login_failures
        with self.store.reading() as c:
            return int(c.execute(sa.select(sa.func.count()).where(f.c.failed_at >= since)).scalar_one())

    def clear_failures(self, client: str) -> None:
        with self.store.writing() as c:
            c.execute(
                t.console_login_failures.delete().where(t.console_login_failures.c.client == _digest(client))
            )

"""The inbox: every provider event (and one-click unsubscribe) stored once, then processed once.

The receiver stores each webhook event once, keyed by its ``svix-id``, before it answers 2xx (a
delivery repeated three times is one row), in the same transaction as the compliance it obliges.
Processing then *claims* each event (``new`` -> ``processing``, :mod:`gtm_pipeline.store.claims`),
so two passes at once never act on the same one, and marks it once. The ``inbox_events`` sensor
walks the rows in commit order (:meth:`Inbox.events_after`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from gtm_pipeline.store import schema as t
from gtm_pipeline.store.claims import CLAIM_LEASE, claimable
from gtm_pipeline.store.driver_path import EVENT_COLUMNS, processors, sqlite_driver
from gtm_pipeline.store.records import record, utc

if TYPE_CHECKING:
    from gtm_pipeline.store.unit import Store

PROCESSING = "processing"


@dataclass(frozen=True)
class InboxRow:
    """One stored provider event (or one-click unsubscribe)."""

    id: int
    event_key: str
    event_type: str
    prospect_id: str | None
    touch_id: str | None
    provider_email_id: str | None
    payload: dict[str, Any]
    raw_message: str | None
    status: str
    received_at: dt.datetime


@dataclass(frozen=True)
class ClaimedEvent:
    """An inbox event this pass now holds; ``resumed`` when a pass that died held it before (so it
    may already have applied the event's transition)."""

    row: InboxRow
    resumed: bool


def _add_event_statement(insert: Any) -> Any:
    """``INSERT ... ON CONFLICT (event_key) DO NOTHING RETURNING id`` in one dialect's words."""
    return (
        insert(t.inbox)
        .values({name: sa.bindparam(name, type_=t.inbox.c[name].type) for name in EVENT_COLUMNS})
        .on_conflict_do_nothing(index_elements=["event_key"])
        .returning(t.inbox.c.id)
    )


_ADD_EVENT = {
    "postgresql": _add_event_statement(postgresql.insert),
    "sqlite": _add_event_statement(sqlite.insert),
}


# A position in the inbox's commit order: (Postgres transaction id or 0, row id); see events_after.
EventPosition = tuple[int, int]
# The oldest transaction still running (Postgres): every transaction below it has ended, so the
# rows it stored are all visible now or never will be.
_OLDEST_RUNNING: sa.ColumnElement[int] = sa.literal_column(
    "pg_snapshot_xmin(pg_current_snapshot())::text::bigint", sa.BigInteger
)
# The id the next transaction of this server will get: no transaction of this server has one as high.
_NEXT_TRANSACTION: sa.ColumnElement[int] = sa.literal_column(
    "pg_snapshot_xmax(pg_current_snapshot())::text::bigint", sa.BigInteger
)
_EVENT_ID = sa.select(t.inbox.c.id).where(t.inbox.c.event_key == sa.bindparam("event_key"))
# The same statements as SQL for SQLite's own driver (see ``driver_path.sqlite_driver``).
_RAW_ADD_EVENT = (
    f"INSERT INTO inbox ({', '.join(EVENT_COLUMNS)}) VALUES ({', '.join('?' * len(EVENT_COLUMNS))}) "
    "ON CONFLICT (event_key) DO NOTHING RETURNING id"
)
_RAW_EVENT_ID = "SELECT id FROM inbox WHERE event_key = ?"


class Inbox:
    """Storing, walking, claiming and finishing the inbox's events."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add_event(
        self,
        *,
        event_key: str,
        event_type: str,
        payload: dict[str, Any],
        prospect_id: str | None,
        touch_id: str | None,
        provider_email_id: str | None,
        raw_message: str | None = None,
        status: str = "new",
        at: dt.datetime | None = None,
    ) -> tuple[int, bool]:
        """Store an event once by its key; returns (row id, whether it is new)."""
        with self.store.writing() as c:
            return self.add_event_in(
                c,
                event_key=event_key,
                event_type=event_type,
                payload=payload,
                prospect_id=prospect_id,
                touch_id=touch_id,
                provider_email_id=provider_email_id,
                raw_message=raw_message,
                status=status,
                at=at,
            )

    def add_event_in(
        self,
        c: sa.Connection,
        *,
        event_key: str,
        event_type: str,
        payload: dict[str, Any],
        prospect_id: str | None,
        touch_id: str | None,
        provider_email_id: str | None,
        raw_message: str | None = None,
        status: str = "new",
        at: dt.datetime | None = None,
    ) -> tuple[int, bool]:
        """:meth:`add_event` inside the caller's write transaction: the receiver stores an event and
        its compliance effect (suppression) together, so a fault between them leaves neither and the
        provider's retry of the same key does both.

        No lock orders these inserts: the ``inbox_events`` sensor reads in commit order, not id
        order (:meth:`events_after`), so receiver workers on Postgres store events side by side."""
        received_at = at or self.store.now()
        if (driver := sqlite_driver(c)) is not None:
            values = (
                event_key,
                event_type,
                payload,
                prospect_id,
                touch_id,
                provider_email_id,
                raw_message,
                status,
                received_at,
            )
            converted = [convert(v) for convert, v in zip(processors(c.dialect).event, values, strict=True)]
            found = driver.execute(_RAW_ADD_EVENT, converted).fetchone()
            if found is not None:
                return int(found[0]), True
            return int(driver.execute(_RAW_EVENT_ID, (event_key,)).fetchone()[0]), False
        added = c.execute(  # ON CONFLICT: two deliveries of one svix-id at once store it once, no 500
            _ADD_EVENT[c.dialect.name],
            {
                "event_key": event_key,
                "event_type": event_type,
                "payload": payload,
                "prospect_id": prospect_id,
                "touch_id": touch_id,
                "provider_email_id": provider_email_id,
                "raw_message": raw_message,
                "status": status,
                "received_at": received_at,
            },
        ).first()
        if added is not None:
            return int(added.id), True
        row = c.execute(_EVENT_ID, {"event_key": event_key}).one()
        return int(row.id), False

    def has_event(self, event_key: str) -> bool:
        """Whether an event with this key is stored (a repeat delivery need not fetch its body again)."""
        query = sa.select(t.inbox.c.id).where(t.inbox.c.event_key == event_key)
        with self.store.reading() as c:
            return c.execute(query).first() is not None

    def set_raw_message(self, event_id: int, raw: str, prospect_id: str | None, touch_id: str | None) -> None:
        with self.store.writing() as c:
            c.execute(
                t.inbox.update()
                .where(t.inbox.c.id == event_id)
                .values(raw_message=raw, prospect_id=prospect_id, touch_id=touch_id)
            )

    def pending_events(self, prospect_id: str | None = None, limit: int = 1000) -> list[InboxRow]:
        """Events not processed yet, oldest first: new ones and ones a pass holds (which
        :meth:`claim_event` takes over only once their claim is past the lease)."""
        query = (
            sa.select(t.inbox)
            .where(t.inbox.c.status.in_(("new", PROCESSING)))
            .order_by(t.inbox.c.id)
            .limit(limit)
        )
        if prospect_id is not None:
            query = query.where(t.inbox.c.prospect_id == prospect_id)
        with self.store.reading() as c:
            return [record(InboxRow, r) for r in c.execute(query)]

    def pending_count(self, prospect_id: str) -> int:
        query = (
            sa.select(sa.func.count())
            .select_from(t.inbox)
            .where(t.inbox.c.status.in_(("new", PROCESSING)), t.inbox.c.prospect_id == prospect_id)
        )
        with self.store.reading() as c:
            return int(c.execute(query).scalar() or 0)

    def events_after(self, after: EventPosition, limit: int = 5000) -> list[tuple[EventPosition, str | None]]:
        """(position, prospect id) of the events stored after ``after``, in commit order: the inbox
        sensor's cursor walk.

        SQLite commits one writer at a time, so row ids are commit order: a position is ``(0, id)``.
        On Postgres ids are handed out before commit, so a lower id can become visible after a higher
        one; a position is ``(transaction id, id)`` (the ``commit_order`` column, migration 0017)
        and only rows of transactions older than every transaction still running are returned.
        Those are final: nothing can appear behind the cursor later."""
        inbox = t.inbox
        with self.store.reading() as c:
            if c.dialect.name != "postgresql":
                query = (
                    sa.select(inbox.c.id, inbox.c.prospect_id)
                    .where(inbox.c.id > after[1])
                    .order_by(inbox.c.id)
                    .limit(limit)
                )
                return [((0, int(r.id)), r.prospect_id) for r in c.execute(query)]
            query = (
                sa.select(inbox.c.commit_order, inbox.c.id, inbox.c.prospect_id)
                .where(
                    sa.tuple_(inbox.c.commit_order, inbox.c.id) > sa.tuple_(*after),
                    inbox.c.commit_order < _OLDEST_RUNNING,
                )
                .order_by(inbox.c.commit_order, inbox.c.id)
                .limit(limit)
            )
            return [((int(r.commit_order), int(r.id)), r.prospect_id) for r in c.execute(query)]

    def cursor_from_elsewhere(self, after: EventPosition) -> bool:
        """Whether ``after`` names a transaction this Postgres server has not reached yet: the store
        was restored into another server (a dump, logical replication), whose transaction ids start
        elsewhere, so new events could sort behind the cursor and never be walked. Never on SQLite,
        never for a cursor this server wrote (the walk only passes finished transactions)."""
        if not after[0]:
            return False
        with self.store.reading() as c:
            if c.dialect.name != "postgresql":
                return False
            return bool(c.execute(sa.select(sa.literal(after[0]) >= _NEXT_TRANSACTION)).scalar())

    def restart_commit_order(self) -> int:
        """After a restore into another server (:meth:`cursor_from_elsewhere`): every stored event is
        final, so each gets order 0 and the walk starts again from the first row. Walking an event
        twice costs a run that finds nothing new to do (processing is by each row's status); a
        missed one would be a reply never read. Rows of transactions still running keep theirs."""
        with self.store.writing() as c:
            return int(
                c.execute(t.inbox.update().where(t.inbox.c.commit_order != 0).values(commit_order=0)).rowcount
            )

    def events_held(self, after: EventPosition) -> tuple[int, dt.datetime | None]:
        """How many stored events wait behind a Postgres transaction that is still running (see
        :meth:`events_after`), and when the oldest of them arrived: a session left open holds the
        inbox sensor back, and the operator must hear of it. Always ``(0, None)`` on SQLite."""
        inbox = t.inbox
        with self.store.reading() as c:
            if c.dialect.name != "postgresql":
                return 0, None
            row = c.execute(
                sa.select(sa.func.count(), sa.func.min(inbox.c.received_at)).where(
                    sa.tuple_(inbox.c.commit_order, inbox.c.id) > sa.tuple_(*after),
                    inbox.c.commit_order >= _OLDEST_RUNNING,
                )
            ).one()
            return int(row[0] or 0), utc(row[1]) if row[1] is not None else None

    def claim_event(
        self, event_id: int, claimer: str, *, at: dt.datetime | None = None, lease: dt.timedelta = CLAIM_LEASE
    ) -> ClaimedEvent | None:
        """Take an event for one inbox pass (``new`` -> ``processing``) *before* acting on it, or an
        event whose claimer died (held longer than ``lease``). The row is read under a row lock (a
        write transaction in SQLite, ``FOR UPDATE`` in Postgres) and changed by a conditional UPDATE
        on what was read: of two passes exactly one gets it. None when another pass has it."""
        now = at or self.store.now()
        with self.store.writing() as c:
            before = c.execute(
                sa.select(t.inbox.c.status).where(t.inbox.c.id == event_id).with_for_update()
            ).scalar()
            claim = (
                t.inbox.update()
                .where(t.inbox.c.id == event_id, claimable(t.inbox, "new", PROCESSING, now - lease))
                .values(status=PROCESSING, claimed_by=claimer, claimed_at=now)
            )
            if c.execute(claim).rowcount != 1:
                return None
            row = c.execute(sa.select(t.inbox).where(t.inbox.c.id == event_id)).one()
        return ClaimedEvent(record(InboxRow, row), resumed=before == PROCESSING)

    def release_event(self, event_id: int, claimer: str) -> bool:
        """Hand a claimed event back untouched (the pass stopped before deciding it)."""
        query = (
            t.inbox.update()
            .where(t.inbox.c.id == event_id, t.inbox.c.status == PROCESSING, t.inbox.c.claimed_by == claimer)
            .values(status="new", claimed_by=None, claimed_at=None)
        )
        with self.store.writing() as c:
            return bool(c.execute(query).rowcount)

    def finish_event(
        self,
        event_id: int,
        status: str,
        outcome: dict[str, Any],
        at: dt.datetime | None = None,
        *,
        claimer: str | None = None,
    ) -> bool:
        """Mark an event processed exactly once; False when another process got there first.

        With ``claimer``: only while that pass holds the event (``processing``); without, only a
        ``new`` event. A result of ``new`` (a reply whose body is not fetched yet) hands it back."""
        held = (
            sa.and_(t.inbox.c.status == PROCESSING, t.inbox.c.claimed_by == claimer)
            if claimer is not None
            else t.inbox.c.status == "new"
        )
        with self.store.writing() as c:
            result = c.execute(
                t.inbox.update()
                .where(t.inbox.c.id == event_id, held)
                .values(
                    status=status,
                    outcome=outcome,
                    processed_at=at or self.store.now(),
                    claimed_by=None,
                    claimed_at=None,
                )
            )
            return bool(result.rowcount)

    def events(self, prospect_id: str) -> list[InboxRow]:
        query = sa.select(t.inbox).where(t.inbox.c.prospect_id == prospect_id).order_by(t.inbox.c.id)
        with self.store.reading() as c:
            return [record(InboxRow, r) for r in c.execute(query)]

    def outcomes(self) -> list[dict[str, Any]]:
        query = sa.select(t.inbox.c.event_type, t.inbox.c.status, t.inbox.c.outcome).order_by(t.inbox.c.id)
        with self.store.reading() as c:
            return [dict(r._mapping) for r in c.execute(query)]

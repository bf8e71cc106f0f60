"""The send ledger (outbox) and the inbox of provider events.

The outbox row of a touch is written *before* the provider is called and carries the
exact request and its idempotency key; the SENT transition is journaled in the same
transaction that marks the row sent. So a crash anywhere in a send leaves the row unsent
(pending, or claimed until its lease ends), and the retry sends the same request with the same
key: the provider answers with the original message, never a second one.

The inbox stores every webhook event once, keyed by its ``svix-id``, before the receiver
answers 2xx; processing marks each row once. A delivery repeated three times is one row.

Two passes at once (a schedule tick overlapping ``gtm send``, two daemons, two ``gtm inbox
process``) never act on the same row: a pass first *claims* a touch (``pending`` -> ``sending``) or
an event (``new`` -> ``processing``) with one conditional UPDATE, and acts only when that UPDATE
changed the row; every later status write is compare-and-set on the status it expects. A claim
whose process died is taken over after :data:`CLAIM_LEASE`; a touch taken over is re-sent with
its idempotency key, so the provider answers with the first email, never a second one.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from gtm_pipeline.domain.states import Decision, Event
from gtm_pipeline.store import schema as t
from gtm_pipeline.store.records import JournalRecord, record, utc

if TYPE_CHECKING:
    from gtm_pipeline.store.unit import Store

HALT_KINDS = ("sending_halted", "sending_resumed")
# Longer than the longest send (the SDK's 30 s timeout, five attempts, waits of up to 30 s) or
# reply classification: a claim this old belongs to a process that died, and is taken over.
CLAIM_LEASE = dt.timedelta(minutes=15)
SENDING, PROCESSING = "sending", "processing"
# The operator's switch: nothing is sent unless the newest of these entries is "on".
SENDING_SUBJECT = "sending"
SWITCH_ON, SWITCH_OFF = "sending_switched_on", "sending_switched_off"


def claimer() -> str:
    """A new name for one pass's claims: the process (so a claim left behind says whose it was)
    and a random part (two passes in one process never share one)."""
    return f"pid{os.getpid()}-{secrets.token_hex(6)}"


@dataclass(frozen=True)
class Touch:
    """One email of a prospect's sequence, as the ledger holds it."""

    touch_id: str
    prospect_id: str
    touch_number: int
    idempotency_key: str
    message_id: str
    artifact_id: str
    mailbox: str
    sending_domain: str
    to_hash: str
    payload: dict[str, Any]
    status: str
    provider_email_id: str | None
    attempts: int
    created_at: dt.datetime
    sent_at: dt.datetime | None


@dataclass(frozen=True)
class ClaimedEvent:
    """An inbox event this pass now holds; ``resumed`` when a pass that died held it before (so it
    may already have applied the event's transition)."""

    row: InboxRow
    resumed: bool


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


# Built once: the receiver runs these for every event, and building a statement (not running it)
# was most of a webhook's time in the store.
_TOUCH_BY = {
    column: sa.select(t.outbox).where(t.outbox.c[column] == sa.bindparam("value"))
    for column in ("touch_id", "message_id", "provider_email_id")
}
_EVENT_COLUMNS = (
    "event_key",
    "event_type",
    "payload",
    "prospect_id",
    "touch_id",
    "provider_email_id",
    "raw_message",
    "status",
    "received_at",
)


def _add_event_statement(insert: Any) -> Any:
    """``INSERT ... ON CONFLICT (event_key) DO NOTHING RETURNING id`` in one dialect's words."""
    return (
        insert(t.inbox)
        .values({name: sa.bindparam(name, type_=t.inbox.c[name].type) for name in _EVENT_COLUMNS})
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
_EVENT_ID = sa.select(t.inbox.c.id).where(t.inbox.c.event_key == sa.bindparam("event_key"))
# The same statements as SQL for SQLite's own driver (see :func:`_driver`).
_OUTBOX_COLUMNS = tuple(column.name for column in t.outbox.columns)
_RAW_TOUCH_BY = {
    column: f"SELECT {', '.join(_OUTBOX_COLUMNS)} FROM outbox WHERE {column} = ?" for column in _TOUCH_BY
}
_RAW_ADD_EVENT = (
    f"INSERT INTO inbox ({', '.join(_EVENT_COLUMNS)}) VALUES ({', '.join('?' * len(_EVENT_COLUMNS))}) "
    "ON CONFLICT (event_key) DO NOTHING RETURNING id"
)
_RAW_EVENT_ID = "SELECT id FROM inbox WHERE event_key = ?"


def _driver(c: sa.Connection) -> Any | None:
    """SQLite's own connection under ``c`` (same transaction), for the receiver's per-event
    statements, or None to run them through SQLAlchemy.

    The receiver runs a correlation read and an insert for every event; through SQLAlchemy Core
    (even with the statements built once) each costs 15-25 us of Python, through the driver 2-5 us,
    which is most of what separates the receiver from a bare one. The values are converted by the
    very processors SQLAlchemy uses for these columns (:class:`_Processors`), so a row reads back
    the same whichever path wrote it. A listener on SQLAlchemy's statement events (tracing, a
    test's injected fault) on the engine must see every statement: with one attached, the path is
    SQLAlchemy's. Postgres stays on SQLAlchemy (its round trips, not Python, are its cost)."""
    events = c.engine.dispatch  # the engine's own (a connection's joined dispatch costs 2 us to ask)
    if c.dialect.name != "sqlite" or events.before_cursor_execute or events.after_cursor_execute:
        return None
    return c.connection.driver_connection


class _Processors:
    """SQLAlchemy's own value conversions for the columns the driver path writes and reads."""

    def __init__(self, dialect: sa.Dialect) -> None:
        def bind(column: sa.Column[Any]) -> Any:
            return column.type.dialect_impl(dialect).bind_processor(dialect) or (lambda v: v)

        def result(column: sa.Column[Any]) -> Any:
            return column.type.dialect_impl(dialect).result_processor(dialect, None) or (lambda v: v)

        self.event = tuple(bind(t.inbox.c[name]) for name in _EVENT_COLUMNS)
        self.outbox = tuple(result(column) for column in t.outbox.columns)


_PROCESSORS: dict[str, _Processors] = {}


def _processors(dialect: sa.Dialect) -> _Processors:
    found = _PROCESSORS.get(dialect.name)
    if found is None:
        found = _PROCESSORS[dialect.name] = _Processors(dialect)
    return found


def _touch_from_driver(c: sa.Connection, row: tuple[Any, ...]) -> Touch:
    """A :class:`Touch` from a driver row of :data:`_OUTBOX_COLUMNS`, as :func:`record` builds it."""
    processed = dict(
        zip(
            _OUTBOX_COLUMNS,
            (convert(value) for convert, value in zip(_processors(c.dialect).outbox, row, strict=True)),
            strict=True,
        )
    )
    return record(Touch, cast(Any, _Mapped(processed)))


@dataclass(frozen=True)
class _Mapped:
    """What :func:`record` reads of a row (its ``_mapping``), for a driver row."""

    _mapping: dict[str, Any]


def _claimable(table: sa.Table, free: str, held: str, cutoff: dt.datetime) -> sa.ColumnElement[bool]:
    """A row free to claim, or held by a claim older than the lease (its process died)."""
    return sa.or_(table.c.status == free, sa.and_(table.c.status == held, table.c.claimed_at < cutoff))


class OutreachLedger:
    """Outbox and inbox operations on the store's database."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # ------------------------------------------------------------ outbox

    def touches(self, prospect_id: str) -> list[Touch]:
        query = (
            sa.select(t.outbox).where(t.outbox.c.prospect_id == prospect_id).order_by(t.outbox.c.touch_number)
        )
        with self.store.reading() as c:
            return [record(Touch, r) for r in c.execute(query)]

    def _touch_where(self, column: str, value: str, c: sa.Connection | None) -> Touch | None:
        """The touch whose ``column`` is ``value``; read in the caller's transaction ``c`` when given
        (the receiver correlates an event inside the transaction that stores it), else in a read of
        its own. The statement is built once per column (the receiver runs it for every event)."""
        query, params = _TOUCH_BY[column], {"value": value}
        if c is not None and (driver := _driver(c)) is not None:
            found = driver.execute(_RAW_TOUCH_BY[column], (value,)).fetchone()
            return _touch_from_driver(c, found) if found is not None else None
        if c is not None:
            row = c.execute(query, params).first()
        else:
            with self.store.reading() as own:
                row = own.execute(query, params).first()
        return record(Touch, row) if row is not None else None

    def touch(self, touch_id: str, c: sa.Connection | None = None) -> Touch | None:
        return self._touch_where("touch_id", touch_id, c)

    def touch_by_message_id(self, message_id: str, c: sa.Connection | None = None) -> Touch | None:
        return self._touch_where("message_id", message_id, c)

    def touch_by_provider_id(self, email_id: str, c: sa.Connection | None = None) -> Touch | None:
        return self._touch_where("provider_email_id", email_id, c)

    def touches_with_status(self, *statuses: str) -> list[Touch]:
        query = sa.select(t.outbox).where(t.outbox.c.status.in_(statuses)).order_by(t.outbox.c.created_at)
        with self.store.reading() as c:
            return [record(Touch, r) for r in c.execute(query)]

    def open_touch(self, touch: Touch) -> Touch:
        """Write the ledger row for a touch once; an existing row for the same touch wins.

        ``INSERT … ON CONFLICT DO NOTHING``, then read what is there: two passes scheduling the same
        prospect at once both get the one row (Postgres would otherwise fail the second insert on
        the unique touch; SQLite's write lock already serializes them)."""
        values = {f: getattr(touch, f) for f in Touch.__dataclass_fields__}
        same = sa.and_(
            t.outbox.c.prospect_id == touch.prospect_id, t.outbox.c.touch_number == touch.touch_number
        )
        with self.store.writing() as c:
            insert = postgresql.insert if c.dialect.name == "postgresql" else sqlite.insert
            c.execute(insert(t.outbox).values(**values).on_conflict_do_nothing())
            return record(Touch, c.execute(sa.select(t.outbox).where(same)).one())

    def claim_touch(
        self, touch_id: str, claimer: str, *, at: dt.datetime | None = None, lease: dt.timedelta = CLAIM_LEASE
    ) -> Touch | None:
        """Take a pending touch for one send pass (``pending`` -> ``sending``), or a touch whose
        claimer died (held longer than ``lease``). One conditional UPDATE, atomic in SQLite and
        Postgres alike: of two passes, exactly one changes the row, and only that one may act on it.
        Returns the touch as claimed, or None when another pass holds it or it is no longer pending."""
        now = at or self.store.now()
        claim = (
            t.outbox.update()
            .where(t.outbox.c.touch_id == touch_id, _claimable(t.outbox, "pending", SENDING, now - lease))
            .values(status=SENDING, claimed_by=claimer, claimed_at=now)
        )
        with self.store.writing() as c:
            if c.execute(claim).rowcount != 1:
                return None
            row = c.execute(sa.select(t.outbox).where(t.outbox.c.touch_id == touch_id)).one()
        return record(Touch, row)

    def _held(self, touch_id: str, claimer: str) -> sa.ColumnElement[bool]:
        """The touch, only while ``claimer`` still holds it: a pass whose claim was taken over
        (after the lease) changes nothing."""
        return sa.and_(
            t.outbox.c.touch_id == touch_id, t.outbox.c.status == SENDING, t.outbox.c.claimed_by == claimer
        )

    def release_touch(self, touch_id: str, claimer: str, error: str | None = None) -> bool:
        """Hand a claimed touch back (``sending`` -> ``pending``) for a later pass: deferred by the
        policy, a transient provider error (kept as ``last_error``), or this pass stopping. Only
        the claimer can."""
        values: dict[str, Any] = {"status": "pending", "claimed_by": None, "claimed_at": None}
        if error is not None:
            values["last_error"] = error
        query = t.outbox.update().where(self._held(touch_id, claimer)).values(values)
        with self.store.writing() as c:
            return bool(c.execute(query).rowcount)

    def record_attempt(self, touch_id: str, claimer: str) -> bool:
        """Count a provider call about to be made; False (and no call may be made) when this pass no
        longer holds the touch (its claim was taken over, or the touch was settled meanwhile)."""
        query = (
            t.outbox.update()
            .where(self._held(touch_id, claimer))
            .values(attempts=t.outbox.c.attempts + 1, last_error=None)
        )
        with self.store.writing() as c:
            return bool(c.execute(query).rowcount)

    def set_status(
        self,
        touch_id: str,
        status: str,
        error: str | None = None,
        *,
        expected: tuple[str, ...],
        claimer: str | None = None,
    ) -> bool:
        """Compare-and-set a touch's status: it changes only from one of the ``expected`` statuses
        (and, with ``claimer``, only while that pass holds it). A touch Resend accepted stays
        ``sent`` and a delivered touch is never failed, cancelled or doubted, whatever another
        process or a late webhook says. Returns whether it changed."""
        if status == "sent":
            raise ValueError("a touch becomes sent only through mark_sent (with its transition)")
        where = [
            t.outbox.c.touch_id == touch_id,
            t.outbox.c.status.in_([s for s in expected if s != "sent"]),
            t.outbox.c.delivered_at.is_(None),
        ]
        if claimer is not None:
            where.append(t.outbox.c.claimed_by == claimer)
        query = (
            t.outbox.update()
            .where(*where)
            .values(status=status, last_error=error, claimed_by=None, claimed_at=None)
        )
        with self.store.writing() as c:
            return bool(c.execute(query).rowcount)

    def mark_sent(
        self,
        touch: Touch,
        provider_email_id: str,
        *,
        actor: str,
        rationale: str,
        at: dt.datetime | None = None,
    ) -> Decision | None:
        """The provider accepted the touch: ledger and SENT transition in one transaction, once.

        Compare-and-set on "not sent yet" (whoever holds it: the provider's acceptance is the fact),
        so the send pass and an ``email.sent`` webhook settling the same touch journal it once.
        Returns None when it was already sent."""
        now = at or self.store.now()
        settle = (
            t.outbox.update()
            .where(t.outbox.c.touch_id == touch.touch_id, t.outbox.c.status != "sent")
            .values(
                status="sent",
                provider_email_id=provider_email_id,
                sent_at=now,
                last_error=None,
                claimed_by=None,
                claimed_at=None,
            )
        )
        with self.store.writing() as c:
            if c.execute(settle).rowcount != 1:
                return None
            details = {
                "touch_id": touch.touch_id,
                "touch_number": touch.touch_number,
                "mailbox": touch.mailbox,
            }
            return self.store.prospects.apply_in(
                c, touch.prospect_id, Event.SENT, actor=actor, rationale=rationale, at=now, details=details
            )

    def mark_outcome(self, touch_id: str, column: str, at: dt.datetime) -> None:
        """Stamp delivered / bounced / complained on a touch (first time only)."""
        col = t.outbox.c[column]
        with self.store.writing() as c:
            c.execute(
                t.outbox.update().where(t.outbox.c.touch_id == touch_id, col.is_(None)).values({column: at})
            )

    def sent_since(self, since: dt.datetime, *, mailbox: str | None = None, domain: str | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(t.outbox).where(t.outbox.c.sent_at >= since)
        if mailbox is not None:
            query = query.where(t.outbox.c.mailbox == mailbox)
        if domain is not None:
            query = query.where(t.outbox.c.sending_domain == domain)
        with self.store.reading() as c:
            return int(c.execute(query).scalar() or 0)

    def first_send(self, domain: str) -> dt.datetime | None:
        query = sa.select(sa.func.min(t.outbox.c.sent_at)).where(t.outbox.c.sending_domain == domain)
        with self.store.reading() as c:
            value = c.execute(query).scalar()
        return (
            value.replace(tzinfo=dt.UTC) if isinstance(value, dt.datetime) and value.tzinfo is None else value
        )

    def domain_health(
        self, domain: str, window: int, since: dt.datetime | None = None
    ) -> tuple[int, int, int]:
        """(sends, hard bounces, complaints) over the ``window`` most recent sends after ``since``."""
        where = [t.outbox.c.sending_domain == domain, t.outbox.c.sent_at.is_not(None)]
        if since is not None:
            where.append(t.outbox.c.sent_at > since)
        recent = (
            sa.select(t.outbox.c.bounced_at, t.outbox.c.complained_at)
            .where(*where)
            .order_by(t.outbox.c.sent_at.desc())
            .limit(window)
            .subquery()
        )
        query = sa.select(
            sa.func.count(),
            sa.func.count(recent.c.bounced_at),
            sa.func.count(recent.c.complained_at),
        ).select_from(recent)
        with self.store.reading() as c:
            sends, bounces, complaints = c.execute(query).one()
        return int(sends), int(bounces), int(complaints)

    def last_resume(self, domain: str) -> dt.datetime | None:
        """When an operator last lifted a halt of ``domain`` (rates count only sends after it)."""
        entries = [e for e in self.store.journal.entries(f"sender:{domain}") if e.kind == "sending_resumed"]
        return entries[-1].created_at if entries else None

    def halt(self, domain: str) -> JournalRecord | None:
        """The standing halt of a sending domain (the newest halt/resume entry, if a halt)."""
        entries = [e for e in self.store.journal.entries(f"sender:{domain}") if e.kind in HALT_KINDS]
        return entries[-1] if entries and entries[-1].kind == "sending_halted" else None

    def sending_switch(self) -> JournalRecord | None:
        """The newest switch entry (``None``: never switched, so sending is off)."""
        entries = [
            e for e in self.store.journal.entries(SENDING_SUBJECT) if e.kind in (SWITCH_ON, SWITCH_OFF)
        ]
        return entries[-1] if entries else None

    def sending_on(self) -> bool:
        switch = self.sending_switch()
        return switch is not None and switch.kind == SWITCH_ON

    def switch_sending(self, on: bool, *, actor: str, reason: str, schedule: str) -> str:
        """Switch sending on or off (journaled with who and why); ``schedule`` records what became of
        Dagster's send schedule (``running``, ``stopped``, ``unknown``)."""
        return self.store.journal.append(
            subject=SENDING_SUBJECT,
            kind=SWITCH_ON if on else SWITCH_OFF,
            actor=actor,
            payload={"reason": reason, "schedule": schedule},
        )

    # ------------------------------------------------------------ inbox

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
        if (driver := _driver(c)) is not None:
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
            converted = [convert(v) for convert, v in zip(_processors(c.dialect).event, values, strict=True)]
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
                .where(t.inbox.c.id == event_id, _claimable(t.inbox, "new", PROCESSING, now - lease))
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

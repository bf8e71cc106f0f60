"""The send ledger (outbox), the sending switch and each domain's health.

The outbox row of a touch is written *before* the provider is called and carries the
exact request and its idempotency key; the SENT transition is journaled in the same
transaction that marks the row sent. So a crash anywhere in a send leaves the row unsent
(pending, or claimed until its lease ends), and the retry sends the same request with the same
key: the provider answers with the original message, never a second one.

Two passes at once (a schedule tick overlapping ``gtm send``, two daemons) never send the same
touch: a pass first *claims* it (``pending`` -> ``sending``, :mod:`gtm_pipeline.store.claims`); a
claim whose process died is taken over after the lease, and the touch is re-sent with its
idempotency key, so the provider answers with the first email, never a second one. The inbox of
provider events is :mod:`gtm_pipeline.store.inbox`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from gtm_pipeline.domain.states import Decision, Event
from gtm_pipeline.store import schema as t
from gtm_pipeline.store.claims import CLAIM_LEASE, claimable
from gtm_pipeline.store.driver_path import Mapped, processors, sqlite_driver
from gtm_pipeline.store.records import JournalRecord, record

if TYPE_CHECKING:
    from gtm_pipeline.store.unit import Store

HALT_KINDS = ("sending_halted", "sending_resumed")
SENDING = "sending"
# The operator's switch: nothing is sent unless the newest of these entries is "on".
SENDING_SUBJECT = "sending"
SWITCH_ON, SWITCH_OFF = "sending_switched_on", "sending_switched_off"


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


# Built once: the receiver runs these for every event, and building a statement (not running it)
# was most of a webhook's time in the store.
_TOUCH_BY = {
    column: sa.select(t.outbox).where(t.outbox.c[column] == sa.bindparam("value"))
    for column in ("touch_id", "message_id", "provider_email_id")
}


# The same statements as SQL for SQLite's own driver (see ``driver_path.sqlite_driver``).
_OUTBOX_COLUMNS = tuple(column.name for column in t.outbox.columns)
_RAW_TOUCH_BY = {
    column: f"SELECT {', '.join(_OUTBOX_COLUMNS)} FROM outbox WHERE {column} = ?" for column in _TOUCH_BY
}


def _touch_from_driver(c: sa.Connection, row: tuple[Any, ...]) -> Touch:
    """A :class:`Touch` from a driver row of :data:`_OUTBOX_COLUMNS`, as :func:`record` builds it."""
    processed = dict(
        zip(
            _OUTBOX_COLUMNS,
            (convert(value) for convert, value in zip(processors(c.dialect).outbox, row, strict=True)),
            strict=True,
        )
    )
    return record(Touch, cast(Any, Mapped(processed)))


class OutreachLedger:
    """Outbox operations on the store's database: touches, their claims and outcomes, the switch."""

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
        if c is not None and (driver := sqlite_driver(c)) is not None:
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
            .where(t.outbox.c.touch_id == touch_id, claimable(t.outbox, "pending", SENDING, now - lease))
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

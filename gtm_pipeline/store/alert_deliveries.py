"""Alert deliveries: which escalation was posted on which channel, once.

A row per (escalation, channel, message), ``message`` being ``raised`` (the escalation itself) or
``resolved`` (the follow-up once an operator acknowledged it). The unique row is the "once"; the
status says where it is:

    pending  -> sending (claimed by one pass) -> sent
                        -> failed (tried again after ``next_attempt_at``) -> ... -> gave_up
    pending | failed -> closed   (acknowledged before it was posted: nothing to tell any more)

A pass acts on a row only after one conditional UPDATE moved it to ``sending`` under its own name
(the same claim as the send ledger's), so two passes at once post it once; a claim older than
:data:`CLAIM_LEASE` belongs to a pass that died and is taken over. The table holds ids, channel
names, counts and the channel's own error words: no personal data.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from gtm_pipeline.store import schema as t
from gtm_pipeline.store.records import record

if TYPE_CHECKING:
    from gtm_pipeline.store.unit import Store

alert_deliveries = sa.Table(
    "alert_deliveries",
    t.metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("escalation_id", sa.Integer, sa.ForeignKey("escalations.id"), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),  # slack | telegram
    sa.Column("message", sa.String(16), nullable=False),  # raised | resolved
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),  # requests made
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
    sa.Column("claimed_by", sa.String(80)),
    sa.Column("claimed_at", sa.DateTime(timezone=True)),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
    sa.Column("last_error", sa.String(300)),
    sa.UniqueConstraint("escalation_id", "channel", "message", name="uq_alert_delivery"),
)
RAISED, RESOLVED = "raised", "resolved"
PENDING, SENDING, SENT, FAILED, GAVE_UP, CLOSED = "pending", "sending", "sent", "failed", "gave_up", "closed"
# Longer than one post can take (three tries, 30 s of waits in all, 10 s timeouts).
CLAIM_LEASE = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class Delivery:
    """One message of one escalation on one channel."""

    id: int
    escalation_id: int
    channel: str
    message: str
    status: str
    attempts: int
    created_at: dt.datetime
    next_attempt_at: dt.datetime | None
    claimed_by: str | None
    claimed_at: dt.datetime | None
    sent_at: dt.datetime | None
    last_error: str | None


class AlertDeliveries:
    """Queue, claim and settle alert messages."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # ------------------------------------------------------------ queueing

    def enqueue(
        self,
        channels: list[str],
        *,
        mute: tuple[str, ...] = (),
        resolved: bool = True,
        limit: int = 100,
        skip_own_failures: bool = True,
    ) -> int:
        """Add a pending row for each open escalation not yet queued on a channel (and, with
        ``resolved``, for each acknowledged one whose alert was posted there). Idempotent: ``INSERT ...
        ON CONFLICT DO NOTHING`` on the unique row, so two passes queueing at once add it once.
        ``skip_own_failures``: an ``alert_failed`` escalation about a channel is not posted on that
        channel (it could not take it; the other channel and the console show it)."""
        e, d = t.escalations, alert_deliveries
        now, added = self.store.now(), 0
        for channel in channels:
            queued = sa.exists().where(d.c.escalation_id == e.c.id, d.c.channel == channel)
            raised = (
                sa.select(e.c.id)
                .where(e.c.acknowledged_at.is_(None), ~queued.where(d.c.message == RAISED))
                .order_by(e.c.id)
                .limit(limit)
            )
            if mute:
                raised = raised.where(e.c.kind.not_in(mute))
            if skip_own_failures:
                raised = raised.where(sa.or_(e.c.kind != "alert_failed", e.c.subject != channel))
            wanted = [(row.id, RAISED) for row in self._rows(raised)]
            if resolved:
                posted = sa.select(d.c.escalation_id).where(
                    d.c.channel == channel, d.c.message == RAISED, d.c.status == SENT
                )
                follow_ups = (
                    sa.select(e.c.id)
                    .where(
                        e.c.acknowledged_at.is_not(None),
                        e.c.id.in_(posted),
                        ~queued.where(d.c.message == RESOLVED),
                    )
                    .order_by(e.c.id)
                    .limit(limit)
                )
                wanted += [(row.id, RESOLVED) for row in self._rows(follow_ups)]
            if not wanted:
                continue
            with self.store.writing() as c:
                insert = postgresql.insert if c.dialect.name == "postgresql" else sqlite.insert
                for escalation_id, message in wanted:
                    result = c.execute(
                        insert(d)
                        .values(
                            escalation_id=escalation_id,
                            channel=channel,
                            message=message,
                            status=PENDING,
                            attempts=0,
                            created_at=now,
                        )
                        .on_conflict_do_nothing(index_elements=["escalation_id", "channel", "message"])
                        .returning(d.c.id)
                    ).first()
                    added += result is not None  # (a rowcount is -1 here on Postgres)
        return added

    def _rows(self, query: sa.Select[tuple[int]]) -> list[sa.Row[tuple[int]]]:
        with self.store.reading() as c:
            return list(c.execute(query))

    def close_acknowledged(self, lease: dt.timedelta = CLAIM_LEASE) -> int:
        """An escalation acknowledged before its alert went out needs no alert any more: its waiting
        ``raised`` rows become ``closed`` (with why), so they are neither posted nor lost. A row a
        dead pass left ``sending`` past its lease is closed too, saying that pass never told
        whether it posted (it could not be claimed again, and would hold a place in every pass)."""
        e, d = t.escalations, alert_deliveries
        acknowledged = sa.select(e.c.id).where(e.c.acknowledged_at.is_not(None))
        waiting = (
            d.update()
            .where(
                d.c.message == RAISED,
                d.c.status.in_((PENDING, FAILED)),
                d.c.escalation_id.in_(acknowledged),
            )
            .values(status=CLOSED, last_error="acknowledged before it was posted", next_attempt_at=None)
        )
        abandoned = (
            d.update()
            .where(
                d.c.message == RAISED,
                d.c.status == SENDING,
                d.c.claimed_at < self.store.now() - lease,
                d.c.escalation_id.in_(acknowledged),
            )
            .values(
                status=CLOSED,
                last_error="acknowledged; the pass that claimed it ended without saying whether it posted",
                next_attempt_at=None,
            )
        )
        with self.store.writing() as c:
            return int(c.execute(waiting).rowcount or 0) + int(c.execute(abandoned).rowcount or 0)

    # ------------------------------------------------------------ claiming

    def due(self, channels: list[str], *, limit: int, lease: dt.timedelta = CLAIM_LEASE) -> list[Delivery]:
        """Rows a pass may try now, oldest first (a list to claim from, not a claim)."""
        d, now = alert_deliveries, self.store.now()
        query = (
            sa.select(d)
            .where(d.c.channel.in_(channels), self._claimable(now, lease))
            .order_by(d.c.id)
            .limit(limit)
        )
        with self.store.reading() as c:
            return [record(Delivery, r) for r in c.execute(query)]

    @staticmethod
    def _claimable(now: dt.datetime, lease: dt.timedelta) -> sa.ColumnElement[bool]:
        d = alert_deliveries
        return sa.or_(
            d.c.status == PENDING,
            sa.and_(d.c.status == FAILED, d.c.next_attempt_at <= now),
            sa.and_(d.c.status == SENDING, d.c.claimed_at < now - lease),
        )

    def claim(self, delivery_id: int, claimer: str, *, lease: dt.timedelta = CLAIM_LEASE) -> Delivery | None:
        """Take a row for this pass with one conditional UPDATE: of two passes exactly one changes
        it, and only that one posts. A ``raised`` message is claimed only while its escalation is
        still open (acknowledged meanwhile: nothing is posted). None when another pass has it, it is
        settled, or it is not due."""
        d, e, now = alert_deliveries, t.escalations, self.store.now()
        still_open = sa.exists().where(e.c.id == d.c.escalation_id, e.c.acknowledged_at.is_(None))
        query = (
            d.update()
            .where(
                d.c.id == delivery_id,
                self._claimable(now, lease),
                sa.or_(d.c.message != RAISED, still_open),
            )
            .values(status=SENDING, claimed_by=claimer, claimed_at=now)
        )
        with self.store.writing() as c:
            if c.execute(query).rowcount != 1:
                return None
            row = c.execute(sa.select(d).where(d.c.id == delivery_id)).one()
        return record(Delivery, row)

    def _settle(self, delivery_id: int, claimer: str, **values: object) -> bool:
        """Compare-and-set from this pass's claim: a pass whose claim was taken over changes nothing."""
        d = alert_deliveries
        query = (
            d.update()
            .where(d.c.id == delivery_id, d.c.status == SENDING, d.c.claimed_by == claimer)
            .values(claimed_by=None, claimed_at=None, **values)
        )
        with self.store.writing() as c:
            return bool(c.execute(query).rowcount)

    def mark_sent(self, delivery_id: int, claimer: str, *, requests: int) -> bool:
        return self._settle(
            delivery_id,
            claimer,
            status=SENT,
            sent_at=self.store.now(),
            attempts=alert_deliveries.c.attempts + requests,
            last_error=None,
            next_attempt_at=None,
        )

    def mark_failed(
        self, delivery_id: int, claimer: str, *, requests: int, error: str, retry_at: dt.datetime | None
    ) -> bool:
        """Record a failure: tried again after ``retry_at``, or given up when it is None."""
        return self._settle(
            delivery_id,
            claimer,
            status=FAILED if retry_at is not None else GAVE_UP,
            attempts=alert_deliveries.c.attempts + requests,
            last_error=error[:300],
            next_attempt_at=retry_at,
        )

    # ------------------------------------------------------------ reading

    def of(self, escalation_id: int) -> list[Delivery]:
        d = alert_deliveries
        query = sa.select(d).where(d.c.escalation_id == escalation_id).order_by(d.c.id)
        with self.store.reading() as c:
            return [record(Delivery, r) for r in c.execute(query)]

    def counts(self) -> dict[str, int]:
        """Rows per status (what ``gtm alerts send`` and a status page summarise)."""
        d = alert_deliveries
        query = sa.select(d.c.status, sa.func.count()).group_by(d.c.status)
        with self.store.reading() as c:
            return {str(status): int(n) for status, n in c.execute(query)}

"""Skill calls deferred to a provider's batch API: one row per call, claimed by one pass at a time.

A backfill or a re-score run that asks for batching does not call the provider: the runner queues
the exact request here (``skills.runner``) and the ``skill_batches`` sensor (``defs/batches.py``)
submits, polls and collects. A row's life:

    queued -> submitting (claimed by one pass) -> submitted (in batch ``batch_id``)
           -> collecting (claimed by one pass) -> done | dead | queued again (a failed item retried)
    queued | submitting -> direct  (the host has no batch API, or a direct run took a queued call)
    submitting -> submit_unknown  (the create's answer was lost: held for the operator)
    collecting -> stale  (the skill changed meanwhile: its prospect's run queues the new call)

A settled row (done, dead, direct, stale) waits for its prospect's run, which marks it
(``run_requested_at``) when it starts.

Every move is one conditional UPDATE under the pass's name (the alert deliveries' claim), so two
sensor ticks, or two processes, at once submit an item once and collect it once; a claim older than
its lease belongs to a pass that died and is taken over. ``custom_id`` is unique: queueing the same
call twice is one row, and it travels to the provider, so it is a hash, never a name or an address.

The ``request`` column holds the prompt's inputs and sources, which may be personal data: it is kept
only while the call is on its way (emptied when the row settles), rows carry ``prospect_id``, and an
erasure deletes them (:meth:`SkillBatches.erase`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from gtm_pipeline.store import schema as t
from gtm_pipeline.store.claims import claimable
from gtm_pipeline.store.records import record, utc

if TYPE_CHECKING:
    from gtm_pipeline.store.unit import Store

skill_batch_items = sa.Table(
    "skill_batch_items",
    t.metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("custom_id", sa.String(64), nullable=False, unique=True),
    sa.Column("prospect_id", sa.String(64), index=True),
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("skill", sa.String(100), nullable=False),
    sa.Column("skill_version", sa.String(32), nullable=False),
    sa.Column("code_version", sa.String(200), nullable=False),
    sa.Column("group_name", sa.String(100), nullable=False),
    sa.Column("provider", sa.String(32), nullable=False),
    sa.Column("input_hash", sa.String(64), nullable=False),
    sa.Column("request", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),  # batch submissions made
    sa.Column("batch_id", sa.String(100), index=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("claimed_by", sa.String(80)),
    sa.Column("claimed_at", sa.DateTime(timezone=True)),
    sa.Column("settled_at", sa.DateTime(timezone=True)),
    sa.Column("run_requested_at", sa.DateTime(timezone=True)),
    sa.Column("last_error", sa.String(300)),
    # The submission's cost estimate (dollars, batch price): counted against the group's daily cap
    # while the batch runs, before its real spend is recorded at collection.
    sa.Column("est_cost_usd", sa.Float),
)

QUEUED, SUBMITTING, SUBMITTED, COLLECTING = "queued", "submitting", "submitted", "collecting"
DONE, DEAD, DIRECT, STALE = "done", "dead", "direct", "stale"
# A create whose answer was lost (timeout, connection, 5xx): the batch may exist at the provider, so
# the items are neither queued again (a second, paid submission) nor called directly; the operator
# is escalated and decides (:meth:`SkillBatches.requeue_unknown` once the provider shows no batch).
SUBMIT_UNKNOWN = "submit_unknown"
# A call in one of these is on its way through a batch: a run finding it waits instead of calling.
IN_FLIGHT = (QUEUED, SUBMITTING, SUBMITTED, COLLECTING, SUBMIT_UNKNOWN)
# Counted against the group's daily cap until collected (their spend is not recorded yet).
COMMITTED = (SUBMITTED, COLLECTING, SUBMIT_UNKNOWN)
# One batch create (an upload and a create for OpenAI, SDK retries included) takes far less; past
# it the pass is taken for dead and another may submit the items again (possibly twice at the
# provider: results are journaled under the call's own key, so the second is paid, not used twice).
SUBMIT_LEASE = dt.timedelta(minutes=10)
COLLECT_LEASE = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class BatchItem:
    """One deferred skill call."""

    id: int
    custom_id: str
    prospect_id: str | None
    subject: str
    skill: str
    skill_version: str
    code_version: str
    group_name: str
    provider: str
    input_hash: str
    request: dict[str, Any]
    status: str
    attempts: int
    batch_id: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    claimed_by: str | None
    claimed_at: dt.datetime | None
    settled_at: dt.datetime | None
    run_requested_at: dt.datetime | None
    last_error: str | None
    est_cost_usd: float | None = None


class SkillBatches:
    """Queue, claim and settle deferred skill calls."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # ------------------------------------------------------------ queueing

    def enqueue(
        self,
        *,
        custom_id: str,
        prospect_id: str | None,
        subject: str,
        skill: str,
        skill_version: str,
        code_version: str,
        group: str,
        provider: str,
        input_hash: str,
        request: dict[str, Any],
    ) -> BatchItem:
        """Queue a call, or return the row already there for it (``INSERT ... ON CONFLICT DO
        NOTHING`` on ``custom_id``: two runs queueing the same call at once make one row)."""
        b, now = skill_batch_items, self.store.now()
        with self.store.writing() as c:
            insert = postgresql.insert if c.dialect.name == "postgresql" else sqlite.insert
            c.execute(
                insert(b)
                .values(
                    custom_id=custom_id,
                    prospect_id=prospect_id,
                    subject=subject,
                    skill=skill,
                    skill_version=skill_version,
                    code_version=code_version,
                    group_name=group,
                    provider=provider,
                    input_hash=input_hash,
                    request=request,
                    status=QUEUED,
                    attempts=0,
                    created_at=now,
                    updated_at=now,
                )
                .on_conflict_do_nothing(index_elements=["custom_id"])
            )
            row = c.execute(sa.select(b).where(b.c.custom_id == custom_id)).one()
        return record(BatchItem, row)

    def get(self, custom_id: str) -> BatchItem | None:
        b = skill_batch_items
        with self.store.reading() as c:
            row = c.execute(sa.select(b).where(b.c.custom_id == custom_id)).first()
        return record(BatchItem, row) if row is not None else None

    # ------------------------------------------------------------ submitting

    def providers_queued(self, lease: dt.timedelta = SUBMIT_LEASE) -> list[str]:
        """Providers with items a pass may submit now."""
        b = skill_batch_items
        query = sa.select(b.c.provider).where(self._submittable(lease)).distinct().order_by(b.c.provider)
        with self.store.reading() as c:
            return [str(r[0]) for r in c.execute(query)]

    def _submittable(self, lease: dt.timedelta) -> sa.ColumnElement[bool]:
        return claimable(skill_batch_items, QUEUED, SUBMITTING, self.store.now() - lease)

    def claim_queued(
        self, provider: str, claimer: str, *, limit: int, lease: dt.timedelta = SUBMIT_LEASE
    ) -> list[BatchItem]:
        """Take up to ``limit`` of ``provider``'s queued items for this pass, oldest first, in one
        conditional UPDATE: of two passes at once each item goes to exactly one."""
        b, now = skill_batch_items, self.store.now()
        wanted = sa.select(b.c.id).where(b.c.provider == provider, self._submittable(lease))
        wanted = wanted.order_by(b.c.id).limit(limit)
        with self.store.writing() as c:
            ids = [int(r[0]) for r in c.execute(wanted)]
            if not ids:
                return []
            c.execute(
                b.update()
                .where(b.c.id.in_(ids), self._submittable(lease))
                .values(status=SUBMITTING, claimed_by=claimer, claimed_at=now, updated_at=now)
            )
            rows = c.execute(
                sa.select(b).where(b.c.id.in_(ids), b.c.claimed_by == claimer, b.c.status == SUBMITTING)
            )
            return [record(BatchItem, r) for r in rows.fetchall()]

    def mark_submitted(
        self, ids: list[int], claimer: str, batch_id: str, estimates: dict[int, float] | None = None
    ) -> int:
        """In batch ``batch_id``, with each item's cost estimate (``estimates``: row id -> dollars)."""
        b = skill_batch_items
        values: dict[str, Any] = {}
        if estimates:
            values["est_cost_usd"] = sa.case(estimates, value=b.c.id, else_=None)
        return self._settle(
            ids,
            claimer,
            SUBMITTING,
            status=SUBMITTED,
            batch_id=batch_id,
            attempts=b.c.attempts + 1,
            last_error=None,
            **values,
        )

    def mark_submit_unknown(self, ids: list[int], claimer: str, error: str) -> int:
        """The create's answer was lost: the batch may exist. Held (not queued, not direct) for the
        operator, so nothing is paid twice; runs meeting these calls wait."""
        return self._settle(ids, claimer, SUBMITTING, status=SUBMIT_UNKNOWN, last_error=error[:300])

    def requeue_unknown(self, ids: list[int]) -> int:
        """The operator found no batch at the provider for these calls: queued again."""
        b = skill_batch_items
        query = (
            b.update()
            .where(b.c.id.in_(ids), b.c.status == SUBMIT_UNKNOWN)
            .values(status=QUEUED, updated_at=self.store.now(), last_error=None)
        )
        with self.store.writing() as c:
            return int(c.execute(query).rowcount or 0)

    def committed_usd(self, group: str) -> float:
        """Estimated dollars of ``group``'s calls submitted and not collected yet: spent for the cap,
        though not recorded as spend until their results are read."""
        b = skill_batch_items
        query = sa.select(sa.func.coalesce(sa.func.sum(b.c.est_cost_usd), 0.0)).where(
            b.c.group_name == group, b.c.status.in_(COMMITTED)
        )
        with self.store.reading() as c:
            return float(c.execute(query).scalar_one())

    def take_direct(self, item_id: int, reason: str) -> bool:
        """A direct run takes a still-queued call for itself (compare-and-set from ``queued``): the
        run calls it now, and no pass submits it too. False: a pass claimed it first (it waits).
        Requested at once: the run taking it is the run that uses it."""
        b, now = skill_batch_items, self.store.now()
        query = (
            b.update()
            .where(b.c.id == item_id, b.c.status == QUEUED)
            .values(
                status=DIRECT,
                last_error=reason[:300],
                settled_at=now,
                run_requested_at=now,
                request={},
                updated_at=now,
            )
        )
        with self.store.writing() as c:
            return bool(c.execute(query).rowcount)

    def release_collecting(self, ids: list[int], claimer: str) -> int:
        """Claimed for collection but not reached in this pass (its time budget ran out): back to
        ``submitted``, collected by the next pass (the batch's results stay at the provider)."""
        return self._settle(ids, claimer, COLLECTING, status=SUBMITTED)

    def release(self, ids: list[int], claimer: str, error: str) -> int:
        """A submission that failed (the host answered 5xx, timed out): back in the queue, with why."""
        return self._settle(ids, claimer, SUBMITTING, status=QUEUED, last_error=error[:300])

    def mark_direct(self, ids: list[int], claimer: str, reason: str) -> int:
        """Handed back to direct calls (the host has no batch API): a run calls them directly."""
        now = self.store.now()
        return self._settle(
            ids, claimer, SUBMITTING, status=DIRECT, last_error=reason[:300], settled_at=now, request={}
        )

    # ------------------------------------------------------------ collecting

    def in_flight_batches(self, lease: dt.timedelta = COLLECT_LEASE) -> list[tuple[str, str]]:
        """(provider, batch id) of the batches with items to collect."""
        b = skill_batch_items
        query = (
            sa.select(b.c.provider, b.c.batch_id)
            .where(b.c.batch_id.is_not(None), self._collectable(lease))
            .distinct()
            .order_by(b.c.provider, b.c.batch_id)
        )
        with self.store.reading() as c:
            return [(str(p), str(i)) for p, i in c.execute(query)]

    def _collectable(self, lease: dt.timedelta) -> sa.ColumnElement[bool]:
        return claimable(skill_batch_items, SUBMITTED, COLLECTING, self.store.now() - lease)

    def claim_batch(
        self, batch_id: str, claimer: str, *, lease: dt.timedelta = COLLECT_LEASE
    ) -> list[BatchItem]:
        """Take an ended batch's items for collection (one conditional UPDATE: collected once)."""
        b, now = skill_batch_items, self.store.now()
        with self.store.writing() as c:
            c.execute(
                b.update()
                .where(b.c.batch_id == batch_id, self._collectable(lease))
                .values(status=COLLECTING, claimed_by=claimer, claimed_at=now, updated_at=now)
            )
            rows = c.execute(
                sa.select(b)
                .where(b.c.batch_id == batch_id, b.c.claimed_by == claimer, b.c.status == COLLECTING)
                .order_by(b.c.id)
            )
            return [record(BatchItem, r) for r in rows.fetchall()]

    def settle(self, item_id: int, claimer: str, status: str, error: str | None = None) -> bool:
        """A collected item's end: ``done``, ``dead``, ``stale``, or ``queued`` again for a retry."""
        values: dict[str, Any] = {"status": status, "last_error": error[:300] if error else None}
        if status != QUEUED:
            # Settled: the request (prompt inputs and sources) is not needed any more, so it is not kept.
            values.update(settled_at=self.store.now(), request={})
        else:
            values["batch_id"] = None
        return bool(self._settle([item_id], claimer, COLLECTING, **values))

    def _settle(self, ids: list[int], claimer: str, expected: str, **values: Any) -> int:
        """Compare-and-set from this pass's claim: a pass whose claim was taken over changes nothing."""
        b = skill_batch_items
        query = (
            b.update()
            .where(b.c.id.in_(ids), b.c.status == expected, b.c.claimed_by == claimer)
            .values(claimed_by=None, claimed_at=None, updated_at=self.store.now(), **values)
        )
        with self.store.writing() as c:
            return int(c.execute(query).rowcount or 0)

    # ------------------------------------------------------------ runs to request

    def settled_unrequested(self, limit: int) -> list[tuple[int, str | None]]:
        """(row id, prospect id) of items settled since their prospect's last run request, in row
        order: their prospects need a run to use (or to call directly) what the batch produced. A
        ``stale`` item too: its answer was to an old prompt, and the run (tagged for batches)
        queues the call under the skill's new code."""
        b = skill_batch_items
        query = (
            sa.select(b.c.id, b.c.prospect_id)
            .where(b.c.settled_at.is_not(None), b.c.run_requested_at.is_(None))
            .order_by(b.c.id)
            .limit(limit)
        )
        with self.store.reading() as c:
            return [(int(i), p) for i, p in c.execute(query)]

    def mark_requested(self, ids: list[int]) -> int:
        """Those rows' prospects got a run (by id: a row settled meanwhile by another pass keeps
        waiting for its own request)."""
        b = skill_batch_items
        query = (
            b.update()
            .where(b.c.id.in_(ids), b.c.settled_at.is_not(None), b.c.run_requested_at.is_(None))
            .values(run_requested_at=self.store.now())
        )
        with self.store.writing() as c:
            return int(c.execute(query).rowcount or 0)

    def mark_run_started(self, prospect_ids: list[str]) -> int:
        """A run tagged for batches started for these prospects: their settled items are requested.
        Marked by the run itself (``defs.steps.run_step``), not by the sensor, so a tick whose run
        requests Dagster discards (a sensor timeout) leaves them for the next tick's same run key."""
        if not prospect_ids:
            return 0
        b = skill_batch_items
        query = (
            b.update()
            .where(
                b.c.prospect_id.in_(prospect_ids), b.c.settled_at.is_not(None), b.c.run_requested_at.is_(None)
            )
            .values(run_requested_at=self.store.now())
        )
        with self.store.writing() as c:
            return int(c.execute(query).rowcount or 0)

    # ------------------------------------------------------------ reading, erasure

    def held(self, limit: int = 200) -> list[tuple[int, str, str, str | None, dt.datetime, str | None]]:
        """The calls held as ``submit_unknown`` (id, provider, skill, batch id, since, why), oldest
        first: what the operator checks at the provider before :meth:`requeue_unknown`. Ids and
        names only; the requests stay in the store."""
        b = skill_batch_items
        query = (
            sa.select(b.c.id, b.c.provider, b.c.skill, b.c.batch_id, b.c.updated_at, b.c.last_error)
            .where(b.c.status == SUBMIT_UNKNOWN)
            .order_by(b.c.updated_at, b.c.id)
            .limit(limit)
        )
        with self.store.reading() as c:
            return [(int(r[0]), str(r[1]), str(r[2]), r[3], utc(r[4]), r[5]) for r in c.execute(query)]

    def counts(self) -> dict[str, int]:
        b = skill_batch_items
        query = sa.select(b.c.status, sa.func.count()).group_by(b.c.status)
        with self.store.reading() as c:
            return {str(status): int(n) for status, n in c.execute(query)}

    def erase(self, prospect_id: str) -> int:
        """Delete every deferred call of a prospect (their requests quote its sources and contact).
        A batch already at the provider keeps its copy until the provider's retention ends; its
        results for these rows are then matched to nothing and dropped."""
        b = skill_batch_items
        with self.store.writing() as c:
            return int(c.execute(b.delete().where(b.c.prospect_id == prospect_id)).rowcount or 0)

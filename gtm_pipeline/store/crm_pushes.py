"""CRM pushes: one row per (prospect, CRM), saying what the CRM holds for that prospect.

The row is what makes a push idempotent (a prospect pushed once per CRM, whatever the number of
passes or triggers), what maps a deal read back to its prospect (by the CRM's company id), and what
an erasure follows to reach the CRM (the ids of the objects created there). Its status:

    pending -> pushing (claimed by one pass) -> pushed -> erase_due -> erasing (claimed) -> erased
                                             -> failed (tried again next pass) -> ... -> gave_up (escalated)
            -> withheld (the person is suppressed or erased: nothing is ever pushed)
    pending | failed | gave_up -> withheld   (erased before anything reached the CRM)
    erasing -> erase_failed (escalated, tried again next pass) -> erasing -> ...

A pass pushes a row only after one conditional UPDATE moved it to ``pushing`` under its own name
(the alert deliveries' claim), so two passes at once (the schedule beside a rehearsal) push it once;
a claim older than :data:`CLAIM_LEASE` belongs to a pass that died and is taken over. An erasure
that lands while a push is in flight wins: the push's ids are kept and the row stays due for deletion.
An erasure is claimed the same way (``erase_due`` -> ``erasing`` under one pass's name, taken over
once its lease is over), so two runs of the CRM job carry it out, journal it and escalate it once.

What the row says the CRM holds: the ids, whether the pipeline created the company and the contact
(``company_created``, ``contact_created``: a matched one was the team's before, and an erasure never
deletes it), and ``maybe_created``: a create was sent and its answer lost, so the CRM may hold an
object whose id the row lacks; it carries the push's key (:func:`gtm_pipeline.crm.sink.push_key`)
and the erasure finds it by that. A CRM's search is eventually consistent (HubSpot finds a new object
only seconds after its create), so the erasure trusts that search only once a grace period has passed
since the push's last create attempt: ``pushed_at`` is that moment (when the push settled, when a
failed push's create may have been written, or when an erasure overtook a push in flight).

It holds the CRM's opaque object ids, the email *hash*, counts and status words, never an address,
a name or a reply: no personal data, so an erasure keeps it as the audit of the deletion.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from gtm_pipeline.store import schema as t
from gtm_pipeline.store.claims import claimable
from gtm_pipeline.store.records import record

if TYPE_CHECKING:
    from gtm_pipeline.store.unit import Store

crm_pushes = sa.Table(
    "crm_pushes",
    t.metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("prospect_id", sa.String(32), nullable=False, index=True),
    sa.Column("subject_hash", sa.String(80), index=True),  # the contact's email hash
    sa.Column("system", sa.String(16), nullable=False),  # hubspot | csv
    sa.Column("trigger", sa.String(40), nullable=False),  # reply:interested | meeting_booked | ...
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("company_id", sa.String(64)),
    sa.Column("company_created", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("contact_id", sa.String(64)),
    # False: the contact was matched by address, the team's CRM held it before (never deleted by us).
    sa.Column("contact_created", sa.Boolean, nullable=False, server_default=sa.false()),
    # A create was sent and its answer lost: the CRM may hold an object tagged with this push's key.
    sa.Column("maybe_created", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("note_id", sa.String(64)),
    sa.Column("deal_id", sa.String(64)),
    sa.Column("deal_stage", sa.String(64)),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.String(300)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    # The push's last create attempt: when it settled, or when a create whose answer was lost was sent
    # (``maybe_created``); an erasure counts the CRM's search delay from it.
    sa.Column("pushed_at", sa.DateTime(timezone=True)),
    sa.Column("erased_at", sa.DateTime(timezone=True)),
    sa.Column("claimed_by", sa.String(80)),
    sa.Column("claimed_at", sa.DateTime(timezone=True)),
    sa.UniqueConstraint("prospect_id", "system", name="uq_crm_push"),
)
PENDING, PUSHING, PUSHED, FAILED = "pending", "pushing", "pushed", "failed"
GAVE_UP, WITHHELD = "gave_up", "withheld"
ERASE_DUE, ERASING, ERASED, ERASE_FAILED = "erase_due", "erasing", "erased", "erase_failed"
TO_PUSH = (PENDING, FAILED)
TO_ERASE = (ERASE_DUE, ERASE_FAILED)
ERASURE_BOUND = (ERASE_DUE, ERASING, ERASE_FAILED, ERASED)  # an erasure reached the row
# Longer than one push can take (three requests or so, each under its timeout and 429 waits).
CLAIM_LEASE = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class CrmPush:
    """What one CRM holds (or should hold, or held) for one prospect."""

    id: int
    prospect_id: str
    subject_hash: str | None
    system: str
    trigger: str
    status: str
    company_id: str | None
    company_created: bool
    contact_id: str | None
    contact_created: bool
    maybe_created: bool
    note_id: str | None
    deal_id: str | None
    deal_stage: str | None
    attempts: int
    last_error: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    pushed_at: dt.datetime | None
    erased_at: dt.datetime | None
    claimed_by: str | None
    claimed_at: dt.datetime | None


class CrmPushes:
    """Queue, settle and erase CRM pushes."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def enqueue(self, prospect_id: str, *, subject_hash: str | None, system: str, trigger: str) -> bool:
        """A pending push, once per (prospect, CRM): ``INSERT ... ON CONFLICT DO NOTHING``, so a second
        trigger (the booking after the reply) or a second pass adds nothing. True when it is new."""
        now = self.store.now()
        with self.store.writing() as c:
            insert = postgresql.insert if c.dialect.name == "postgresql" else sqlite.insert
            added = c.execute(
                insert(crm_pushes)
                .values(
                    prospect_id=prospect_id,
                    subject_hash=subject_hash,
                    system=system,
                    trigger=trigger,
                    status=PENDING,
                    attempts=0,
                    created_at=now,
                    updated_at=now,
                )
                .on_conflict_do_nothing(index_elements=["prospect_id", "system"])
                .returning(crm_pushes.c.id)
            ).first()
        return added is not None

    def _update(self, push_id: int, **values: object) -> None:
        with self.store.writing() as c:
            c.execute(
                crm_pushes.update()
                .where(crm_pushes.c.id == push_id)
                .values(updated_at=self.store.now(), **values)
            )

    def claim(self, push_id: int, claimer: str, *, lease: dt.timedelta = CLAIM_LEASE) -> CrmPush | None:
        """Take a row for this pass with one conditional UPDATE: of two passes exactly one gets it.
        None when another pass has it, or it is no longer to push (pushed, withheld, erased)."""
        p, now = crm_pushes, self.store.now()
        with self.store.writing() as c:
            moved = c.execute(
                p.update()
                .where(p.c.id == push_id, claimable(p, TO_PUSH, PUSHING, now - lease))
                .values(status=PUSHING, claimed_by=claimer, claimed_at=now, updated_at=now)
            ).rowcount
            if moved != 1:
                return None
            row = c.execute(sa.select(p).where(p.c.id == push_id)).one()
        return record(CrmPush, row)

    def _settle(self, push_id: int, claimer: str, **values: object) -> bool:
        """Compare-and-set from this pass's claim. False when the row left it meanwhile: an erasure
        (the row is ``erase_due`` or ``withheld``) or a pass that took over a stale claim."""
        p = crm_pushes
        with self.store.writing() as c:
            return bool(
                c.execute(
                    p.update()
                    .where(p.c.id == push_id, p.c.status == PUSHING, p.c.claimed_by == claimer)
                    .values(claimed_by=None, claimed_at=None, updated_at=self.store.now(), **values)
                ).rowcount
            )

    def _keep_for_erasure(self, push_id: int, **ids: object) -> None:
        """A push that finished after an erasure reached its row: what it created is recorded and
        due for deletion, whatever the erasure found on the row (``withheld``: nothing yet)."""
        p, now = crm_pushes, self.store.now()
        with self.store.writing() as c:
            c.execute(
                p.update()
                .where(p.c.id == push_id, p.c.status.in_((WITHHELD, *ERASURE_BOUND)))
                .values(
                    status=ERASE_DUE,
                    claimed_by=None,
                    claimed_at=None,
                    updated_at=now,
                    pushed_at=now,  # its creates just ended: the CRM's search may not show them yet
                    last_error="erased while it was being pushed",
                    **{k: v for k, v in ids.items() if v is not None},
                )
            )

    def mark_pushed(
        self,
        push_id: int,
        claimer: str,
        *,
        company_id: str,
        company_created: bool,
        contact_id: str,
        note_id: str,
        contact_created: bool,
    ) -> bool:
        """Settle a push; False (and the row kept due for deletion) when an erasure came first."""
        ids = {
            "company_id": company_id,
            "company_created": company_created,
            "contact_id": contact_id,
            "contact_created": contact_created,
            "note_id": note_id,
        }
        settled = self._settle(
            push_id,
            claimer,
            status=PUSHED,
            attempts=crm_pushes.c.attempts + 1,
            last_error=None,
            pushed_at=self.store.now(),
            **ids,
        )
        if not settled:
            self._keep_for_erasure(push_id, **ids)
        return settled

    def mark_failed(
        self, push_id: int, claimer: str, *, error: str, give_up: bool, **ids: str | bool | None
    ) -> bool:
        """Record a failure, with the ids of what the push did create (a retry or an erasure finds
        them); False when an erasure came first (the ids are then kept for it)."""
        made = {k: v for k, v in ids.items() if v is not None}
        # A create that may have been written: the erasure's search by key waits from now for it.
        lost = {"pushed_at": self.store.now()} if made.get("maybe_created") else {}
        settled = self._settle(
            push_id,
            claimer,
            status=GAVE_UP if give_up else FAILED,
            attempts=crm_pushes.c.attempts + 1,
            last_error=error[:300],
            **made,
            **lost,
        )
        if not settled and made:
            self._keep_for_erasure(push_id, **made)
        return settled

    def mark_withheld(self, push_id: int, claimer: str, *, reason: str) -> bool:
        return self._settle(push_id, claimer, status=WITHHELD, last_error=reason[:300])

    def mark_deal(self, push_id: int, *, deal_id: str, stage: str) -> None:
        self._update(push_id, deal_id=deal_id, deal_stage=stage)

    @staticmethod
    def _erasable(now: dt.datetime, lease: dt.timedelta) -> sa.ColumnElement[bool]:
        return claimable(crm_pushes, TO_ERASE, ERASING, now - lease)

    def erasable(self, system: str, *, limit: int, lease: dt.timedelta = CLAIM_LEASE) -> list[CrmPush]:
        """Rows an erase pass may carry out now (due, failed before, or a dead pass's claim), oldest
        first: a list to claim from, not a claim."""
        p = crm_pushes
        query = (
            sa.select(p)
            .where(p.c.system == system, self._erasable(self.store.now(), lease))
            .order_by(p.c.id)
            .limit(limit)
        )
        with self.store.reading() as c:
            return [record(CrmPush, r) for r in c.execute(query)]

    def claim_erasure(
        self, push_id: int, claimer: str, *, lease: dt.timedelta = CLAIM_LEASE
    ) -> CrmPush | None:
        """Take an erasure for this pass (one conditional UPDATE, as :meth:`claim`): of two passes
        exactly one gets it; a claim older than ``lease`` belongs to a pass that died and is taken
        over. None when another pass has it or it is done."""
        p, now = crm_pushes, self.store.now()
        with self.store.writing() as c:
            moved = c.execute(
                p.update()
                .where(p.c.id == push_id, self._erasable(now, lease))
                .values(status=ERASING, claimed_by=claimer, claimed_at=now, updated_at=now)
            ).rowcount
            if moved != 1:
                return None
            row = c.execute(sa.select(p).where(p.c.id == push_id)).one()
        return record(CrmPush, row)

    def _settle_erasure(self, push_id: int, claimer: str, **values: object) -> bool:
        """Compare-and-set from this pass's erasure claim. False when the row left it meanwhile: a
        push that finished late put new ids on it (``erase_due`` again), or a pass took it over."""
        p = crm_pushes
        with self.store.writing() as c:
            return bool(
                c.execute(
                    p.update()
                    .where(p.c.id == push_id, p.c.status == ERASING, p.c.claimed_by == claimer)
                    .values(claimed_by=None, claimed_at=None, updated_at=self.store.now(), **values)
                ).rowcount
            )

    def mark_erased(self, push_id: int, claimer: str, *, outcome: str) -> bool:
        return self._settle_erasure(
            push_id, claimer, status=ERASED, erased_at=self.store.now(), last_error=outcome[:300]
        )

    def mark_erase_failed(self, push_id: int, claimer: str, *, error: str) -> bool:
        return self._settle_erasure(
            push_id, claimer, status=ERASE_FAILED, attempts=crm_pushes.c.attempts + 1, last_error=error[:300]
        )

    def mark_erase_waiting(self, push_id: int, claimer: str, *, reason: str) -> bool:
        """Give the erasure back, still due (not failed: nothing went wrong, no attempt is counted):
        the CRM's search cannot yet be trusted to show what the push may have created. A row with no
        create time (written before ``pushed_at`` held it) gets now, so its wait has an end."""
        p = crm_pushes
        return self._settle_erasure(
            push_id,
            claimer,
            status=ERASE_DUE,
            last_error=reason[:300],
            pushed_at=sa.func.coalesce(p.c.pushed_at, sa.literal(self.store.now(), p.c.pushed_at.type)),
        )

    def mark_erase_due(self, prospect_ids: list[str], subject_hash: str | None) -> int:
        """An erasure reaches the CRM: every row of these prospects or of this person that created
        anything there becomes ``erase_due`` (the next CRM pass deletes it and records the outcome);
        a row that surely created nothing (never sent a create, or got a clear refusal) becomes
        ``withheld``, so it never will. Returns the rows due."""
        p = crm_pushes
        whose: list[sa.ColumnElement[bool]] = [p.c.prospect_id.in_(prospect_ids)] if prospect_ids else []
        if subject_hash:
            whose.append(p.c.subject_hash == subject_hash)
        if not whose:
            return 0
        # What may have reached the CRM: ids known, a create whose answer was lost, or a push in
        # flight (or whose pass died mid-create): the erase pass looks for the rest by the push's key.
        created = sa.or_(
            p.c.company_id.is_not(None),
            p.c.contact_id.is_not(None),
            p.c.note_id.is_not(None),
            p.c.maybe_created,
            p.c.status == PUSHING,
        )
        live = p.c.status.not_in(ERASURE_BOUND)
        now = self.store.now()
        with self.store.writing() as c:
            # A push in flight (or whose pass died mid-create) may have sent a create as late as now
            # whose id the row lacks: the erasure's search by key waits from now for it (a push that
            # settles later records its ids and its own time, see ``_keep_for_erasure``).
            in_flight = c.execute(
                p.update()
                .where(sa.or_(*whose), p.c.status == PUSHING)
                .values(
                    status=ERASE_DUE,
                    pushed_at=now,
                    updated_at=now,
                    last_error="erasure requested",
                    claimed_by=None,
                    claimed_at=None,
                )
            ).rowcount
            due = c.execute(
                p.update()
                .where(sa.or_(*whose), live, created)
                .values(
                    status=ERASE_DUE,
                    updated_at=now,
                    last_error="erasure requested",
                    claimed_by=None,
                    claimed_at=None,
                )
            ).rowcount
            c.execute(
                p.update()
                .where(sa.or_(*whose), live, ~created)
                .values(
                    status=WITHHELD,
                    updated_at=now,
                    last_error="erased before it was pushed",
                    claimed_by=None,
                    claimed_at=None,
                )
            )
        return int(due or 0) + int(in_flight or 0)

    def of(self, prospect_id: str, system: str) -> CrmPush | None:
        query = sa.select(crm_pushes).where(
            crm_pushes.c.prospect_id == prospect_id, crm_pushes.c.system == system
        )
        with self.store.reading() as c:
            row = c.execute(query).first()
        return record(CrmPush, row) if row is not None else None

    def with_status(self, system: str, statuses: tuple[str, ...], *, limit: int = 1000) -> list[CrmPush]:
        query = (
            sa.select(crm_pushes)
            .where(crm_pushes.c.system == system, crm_pushes.c.status.in_(statuses))
            .order_by(crm_pushes.c.id)
            .limit(limit)
        )
        with self.store.reading() as c:
            return [record(CrmPush, r) for r in c.execute(query)]

    def due(self, system: str, *, limit: int, lease: dt.timedelta = CLAIM_LEASE) -> list[CrmPush]:
        """Rows a pass may try to push now, oldest first (a list to claim from, not a claim)."""
        p, now = crm_pushes, self.store.now()
        query = (
            sa.select(p)
            .where(
                p.c.system == system,
                claimable(p, TO_PUSH, PUSHING, now - lease),
            )
            .order_by(p.c.id)
            .limit(limit)
        )
        with self.store.reading() as c:
            return [record(CrmPush, r) for r in c.execute(query)]

    def all(self) -> list[CrmPush]:
        with self.store.reading() as c:
            return [record(CrmPush, r) for r in c.execute(sa.select(crm_pushes).order_by(crm_pushes.c.id))]

    def counts(self) -> dict[str, int]:
        query = sa.select(crm_pushes.c.status, sa.func.count()).group_by(crm_pushes.c.status)
        with self.store.reading() as c:
            return {str(status): int(n) for status, n in c.execute(query)}

    def others_sharing_company(self, system: str, company_id: str, push_id: int) -> int:
        """Live rows besides ``push_id`` that use this CRM company (a company is deleted only when
        no other prospect's push still uses it; one an erasure reached no longer does)."""
        p = crm_pushes
        query = sa.select(sa.func.count()).where(
            p.c.system == system,
            p.c.company_id == company_id,
            p.c.id != push_id,
            # A row an erasure reached does not keep the company: were two erasures of one company
            # carried out at once, each would otherwise keep it for the other and it would stay.
            p.c.status.not_in((WITHHELD, *ERASURE_BOUND)),
        )
        with self.store.reading() as c:
            return int(c.execute(query).scalar() or 0)

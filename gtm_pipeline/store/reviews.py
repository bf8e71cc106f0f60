"""The operator's review queue: drafts waiting in copilot mode, audit samples of dark-factory outputs.

A decision is the review item, the transition and the journal entry in one transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import sqlalchemy as sa

from gtm_pipeline.domain.states import Decision, Event
from gtm_pipeline.store import schema as t
from gtm_pipeline.store.records import ReviewItem, record

if TYPE_CHECKING:
    from gtm_pipeline.store.unit import Store


class Reviews:
    """Queueing, reading and deciding review items."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def enqueue(self, *, prospect_id: str, artifact_id: str, kind: str) -> bool:
        """Put an artifact in front of the operator once; returns False if already queued."""
        with self.store.writing() as c:
            found = c.execute(
                sa.select(t.review_queue.c.id).where(t.review_queue.c.artifact_id == artifact_id)
            ).first()
            if found is not None:
                return False
            c.execute(
                t.review_queue.insert().values(
                    prospect_id=prospect_id,
                    artifact_id=artifact_id,
                    kind=kind,
                    status="pending",
                    created_at=self.store.now(),
                )
            )
            return True

    def get(self, review_id: int) -> ReviewItem | None:
        with self.store.reading() as c:
            row = c.execute(sa.select(t.review_queue).where(t.review_queue.c.id == review_id)).first()
        return record(ReviewItem, row) if row is not None else None

    def pending(self) -> list[ReviewItem]:
        query = (
            sa.select(t.review_queue)
            .where(t.review_queue.c.status == "pending")
            .order_by(t.review_queue.c.id)
        )
        with self.store.reading() as c:
            return [record(ReviewItem, row) for row in c.execute(query)]

    def decide(
        self,
        review_id: int,
        *,
        approve: bool,
        actor: str,
        reason: str,
        now: dt.datetime | None = None,
        artifact_override: str | None = None,
    ) -> Decision:
        """An operator's approval or rejection: the review item, the transition and the journal, at once.

        ``artifact_override`` is the operator's edited version of the draft: the approval then
        names it, so the send step sends the edit (the review item keeps the skill's original).
        """
        at = now or self.store.now()
        with self.store.writing() as c:
            item = c.execute(sa.select(t.review_queue).where(t.review_queue.c.id == review_id)).first()
            if item is None:
                raise KeyError(f"no review item #{review_id}")
            if item.status != "pending":
                raise ValueError(f"review item #{review_id} is {item.status}, not pending")
            if approve:
                meta = c.execute(
                    sa.select(t.artifacts.c.meta).where(t.artifacts.c.id == item.artifact_id)
                ).scalar()
                if (meta or {}).get("blocked"):
                    raise ValueError(
                        f"review item #{review_id} breaks the output policy: it can never be approved"
                    )
            event = Event.DRAFT_APPROVED if approve else Event.DRAFT_REJECTED
            details = {"review_id": review_id, "artifact_id": artifact_override or item.artifact_id}
            if artifact_override:
                details["reviewed_artifact"] = item.artifact_id
            decision = self.store.prospects.apply_in(
                c, item.prospect_id, event, actor=actor, rationale=reason, at=at, details=details
            )
            if decision.allowed:
                c.execute(
                    t.review_queue.update()
                    .where(t.review_queue.c.id == review_id)
                    .values(
                        status="approved" if approve else "rejected",
                        decided_at=at,
                        decided_by=actor,
                        reason=reason,
                    )
                )
            return decision

    def close_audit_sample(self, review_id: int, *, ok: bool, actor: str, reason: str) -> None:
        """An after-the-fact audit of a dark-factory output: recorded, no state change (it already acted)."""
        now = self.store.now()
        with self.store.writing() as c:
            item = c.execute(sa.select(t.review_queue).where(t.review_queue.c.id == review_id)).first()
            if item is None or item.kind != "audit_sample" or item.status != "pending":
                raise ValueError(f"review item #{review_id} is not a pending audit sample")
            c.execute(
                t.review_queue.update()
                .where(t.review_queue.c.id == review_id)
                .values(
                    status="approved" if ok else "rejected", decided_at=now, decided_by=actor, reason=reason
                )
            )
            self.store.journal.append_in(
                c,
                subject=item.prospect_id,
                kind="audit_reviewed",
                actor=actor,
                payload={"review_id": review_id, "artifact_id": item.artifact_id, "ok": ok, "reason": reason},
                now=now,
            )

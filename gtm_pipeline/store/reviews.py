"""The operator's review queue: drafts waiting in copilot mode, audit samples of dark-factory outputs.

A decision is the review item, the transition and the journal entry in one transaction.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

import sqlalchemy as sa

from gtm_pipeline.domain.states import Decision, Event
from gtm_pipeline.store import schema as t
from gtm_pipeline.store.records import ReviewItem, record

if TYPE_CHECKING:
    from gtm_pipeline.store.unit import Store


KEY_PREFIX = "r"
# Shown: 48 bits, so two drafts share a key with odds of about 2 in 100,000 at 100,000 reviews (8
# hex would be 1 in 100 at 10,000); a longer prefix (up to the artifact's 32 hex) resolves one.
KEY_HEX = 12
_KEY_RE = re.compile(rf"^{KEY_PREFIX}([0-9a-f]{{4,32}})$")
_ARTIFACT_RE = re.compile(r"^a_[0-9a-f]{32}$")
_PROSPECT_RE = re.compile(r"^p_[0-9a-f]{20}$")
REF_PATTERN = r"^(?:[0-9]{1,30}|r[0-9a-f]{4,32}|a_[0-9a-f]{32}|p_[0-9a-f]{20})$"


def review_key(artifact_id: str) -> str:
    """The stable short id of a review item (``r3f9a2c1b0d4e``), shown in the console and the CLI.

    Row numbers follow the order workers finish, so ``review approve 3`` named another company
    on each fresh demo. The reviewed artifact's id is a hash of the prospect id and the draft's
    content: the same draft of the same prospect has the same key in every run, and a new draft
    version (after a rejection) gets a new one."""
    return KEY_PREFIX + artifact_id.removeprefix("a_")[:KEY_HEX]


class AmbiguousReviewError(LookupError):
    """A short key shared by more than one review item: a longer prefix is needed."""


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

    def resolve(self, ref: str) -> ReviewItem | None:
        """The review item a person named: its key (``r3f9a2c1b0d4e``, or a longer prefix), the
        reviewed artifact's id, a prospect id (its latest item, pending first) or the old row
        number. None when nothing matches; :class:`AmbiguousReviewError` when a key is shared."""
        text = ref.strip().lower()
        q = t.review_queue
        if text.isdigit():
            number = int(text)
            return self.get(number) if 0 < number < 2**63 else None
        if _ARTIFACT_RE.match(text):
            where = q.c.artifact_id == text
        elif _PROSPECT_RE.match(text):
            where = q.c.prospect_id == text
        elif found := _KEY_RE.match(text):
            # a range on the unique artifact_id index: a prefix match every database can seek
            low = "a_" + found.group(1)
            high = "a_" + found.group(1) + "g"  # "g" sorts after every hex digit
            where = sa.and_(q.c.artifact_id >= low, q.c.artifact_id < high)
        else:
            return None
        pending_first = sa.case((q.c.status == "pending", 0), else_=1)
        query = sa.select(q).where(where).order_by(pending_first, q.c.id.desc()).limit(2)
        with self.store.reading() as c:
            rows = list(c.execute(query))
        if not rows:
            return None
        if len(rows) > 1 and not _PROSPECT_RE.match(text):
            raise AmbiguousReviewError(f"{ref} names more than one review item: give more characters")
        return record(ReviewItem, rows[0])

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

"""Skill graduation: is a copilot skill good enough to act alone? Computed with DuckDB.

The evidence is the operator's own review record, per skill, version and group (drafts
reviewed in copilot mode, audit samples in dark-factory mode): how many were approved as
written, approved after an edit (and how big the edit was, as an edit distance), or
rejected (and why). DuckDB aggregates a snapshot of the store's review queue, artifacts
and journal; nothing is written back. Promotion and demotion move the skill's folder to
the group named by ``promote_to`` / ``demote_to`` - the skill file is never edited - and
are journaled with the record at the time; promotion is refused below the group's
thresholds.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd
import sqlalchemy as sa

from gtm_pipeline.domain.actors import LEGACY_REHEARSAL_OPERATOR, REHEARSAL_PREFIX
from gtm_pipeline.skills.catalog import SkillCatalog, load_catalog
from gtm_pipeline.store import Store
from gtm_pipeline.store import schema as t

_STATS_SQL = """
SELECT skill, skill_version, group_name,
       count(*) FILTER (WHERE status IN ('approved', 'rejected'))            AS reviews,
       count(*) FILTER (WHERE status = 'approved')                           AS approved,
       count(*) FILTER (WHERE status = 'approved' AND edit_distance IS NOT NULL) AS edited,
       count(*) FILTER (WHERE status = 'rejected')                           AS rejected,
       count(*) FILTER (WHERE kind = 'audit_sample')                         AS audits,
       avg(edit_distance) FILTER (WHERE edit_distance IS NOT NULL)           AS mean_edit_distance,
       list(DISTINCT reason) FILTER (WHERE status = 'rejected' AND reason IS NOT NULL) AS rejection_reasons
FROM reviews
GROUP BY skill, skill_version, group_name
ORDER BY skill, skill_version
"""


@dataclass(frozen=True)
class SkillStats:
    """The review record of one skill version."""

    skill: str
    version: str
    group: str
    reviews: int
    approved: int
    edited: int
    rejected: int
    audits: int  # of the reviews, after-the-fact audits of dark-factory outputs
    mean_edit_distance: float | None
    rejection_reasons: list[str]

    @property
    def approval_rate(self) -> float:
        return self.approved / self.reviews if self.reviews else 0.0

    @property
    def edit_rate(self) -> float:
        return self.edited / self.approved if self.approved else 0.0


def _reviews_frame(store: Store) -> pd.DataFrame:
    """Decided draft reviews with the producing skill and any edit's size (a snapshot)."""
    query = (
        sa.select(
            t.review_queue.c.id,
            t.review_queue.c.kind,
            t.review_queue.c.status,
            t.review_queue.c.reason,
            t.artifacts.c.meta,
        )
        .join(t.artifacts, t.artifacts.c.id == t.review_queue.c.artifact_id)
        .where(
            t.review_queue.c.kind.in_(["draft", "audit_sample"]),
            t.review_queue.c.status.in_(["approved", "rejected"]),
            # A rehearsal's approve-all is not the operator's judgment: never graduation evidence.
            ~sa.func.coalesce(t.review_queue.c.decided_by, "").startswith(REHEARSAL_PREFIX),
            sa.func.coalesce(t.review_queue.c.decided_by, "") != LEGACY_REHEARSAL_OPERATOR,
        )
    )
    edits_query = sa.select(t.journal.c.payload).where(t.journal.c.kind == "draft_edited")
    with store.reading() as c:
        rows = c.execute(query).all()
        edits = {int(p["review_id"]): int(p["edit_distance"]) for (p,) in c.execute(edits_query)}
    records: list[dict[str, Any]] = []
    for row in rows:
        meta = dict(row.meta or {})
        records.append(
            {
                "skill": meta.get("skill"),
                "skill_version": meta.get("skill_version"),
                "group_name": meta.get("group"),
                "kind": row.kind,
                "status": row.status,
                "reason": row.reason,
                "edit_distance": edits.get(int(row.id)),
            }
        )
    columns = ["skill", "skill_version", "group_name", "kind", "status", "reason", "edit_distance"]
    frame = pd.DataFrame.from_records(records, columns=columns)
    frame["edit_distance"] = frame["edit_distance"].astype("Int64")
    return frame


def skill_stats(store: Store) -> list[SkillStats]:
    """Approval, edit and rejection figures per skill version (DuckDB over a snapshot)."""
    with duckdb.connect() as con:
        con.register("reviews", _reviews_frame(store))
        result = con.execute(_STATS_SQL).fetchall()
    return [
        SkillStats(
            skill=str(r[0]),
            version=str(r[1]),
            group=str(r[2]),
            reviews=int(r[3]),
            approved=int(r[4]),
            edited=int(r[5]),
            rejected=int(r[6]),
            audits=int(r[7]),
            mean_edit_distance=float(r[8]) if r[8] is not None else None,
            rejection_reasons=[str(x) for x in (r[9] or [])],
        )
        for r in result
    ]


class GraduationError(ValueError):
    """A promotion or demotion that the group's configuration does not allow."""


def stats_for(store: Store, catalog: SkillCatalog, skill: str) -> SkillStats | None:
    """The record of ``skill``'s current version in its current group (what promotion is judged on)."""
    current = catalog.skill(skill)
    for stats in skill_stats(store):
        if (stats.skill, stats.version, stats.group) == (skill, current.version, current.group.spec.name):
            return stats
    return None


def promotion_bar(catalog: SkillCatalog, skill: str) -> str | None:
    """The group's bar for promotion in words (None when the group names no group to promote to)."""
    group = catalog.skill(skill).group.spec
    if not group.promote_to:
        return None
    return (
        f"at least {_reviews(group.promote_min_reviews)}, at least {group.promote_min_approval_rate:.0%} "
        f"approved, at most {group.promote_max_edit_rate:.0%} of approvals edited"
    )


def promotion_blockers(stats: SkillStats | None, catalog: SkillCatalog, skill: str) -> list[str]:
    """Why ``skill`` may not be promoted now, each in words (empty when it may): the console shows
    the promote button only when this is empty, and lists these instead."""
    group = catalog.skill(skill).group.spec
    if not group.promote_to:
        return [f"group {group.name} names no promote_to group"]
    if stats is None or stats.reviews == 0:
        return [f"no reviewed drafts yet: {_reviews(group.promote_min_reviews)} needed"]
    blockers = []
    if stats.reviews < group.promote_min_reviews:
        blockers.append(
            f"{_reviews(stats.reviews)}, {group.promote_min_reviews} needed "
            f"({group.promote_min_reviews - stats.reviews} more)"
        )
    if stats.approval_rate < group.promote_min_approval_rate:
        blockers.append(
            f"approval rate {stats.approval_rate:.0%} < {group.promote_min_approval_rate:.0%} "
            f"({stats.approved} of {stats.reviews} approved)"
        )
    if stats.edit_rate > group.promote_max_edit_rate:
        blockers.append(
            f"edit rate {stats.edit_rate:.0%} > {group.promote_max_edit_rate:.0%} "
            f"({stats.edited} of {stats.approved} approvals edited)"
        )
    return blockers


def _reviews(n: int) -> str:
    return f"{n} review{'' if n == 1 else 's'}"


def move_skill(
    store: Store, catalog: SkillCatalog, skill: str, *, direction: str, actor: str
) -> SkillCatalog:
    """Promote or demote: move the folder (never the text), journal it, return the reloaded catalog."""
    current = catalog.skill(skill)
    spec = current.group.spec
    target = spec.promote_to if direction == "promote" else spec.demote_to
    if not target or target not in catalog.groups:
        raise GraduationError(f"group {spec.name} has no {direction} target")
    stats = stats_for(store, catalog, skill)
    if direction == "promote":
        blockers = promotion_blockers(stats, catalog, skill)
        if blockers:
            raise GraduationError("; ".join(blockers))
    source_dir = current.path.parent
    shutil.move(str(source_dir), str(catalog.root / target / source_dir.name))
    reloaded = load_catalog(catalog.root)
    store.journal.append(
        subject=f"skill:{skill}",
        kind=f"skill_{direction}d",
        actor=actor,
        payload={
            "skill": skill,
            "version": current.version,
            "code_version": current.code_version,
            "from_group": spec.name,
            "to_group": target,
            "to_mode": reloaded.skill(skill).group.spec.mode,
            "record": None
            if stats is None
            else {
                "reviews": stats.reviews,
                "approval_rate": round(stats.approval_rate, 4),
                "edit_rate": round(stats.edit_rate, 4),
                "mean_edit_distance": stats.mean_edit_distance,
                "rejected": stats.rejected,
            },
        },
    )
    return reloaded

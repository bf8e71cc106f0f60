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
from gtm_pipeline.evals.report import EVAL_KIND, bar_problems
from gtm_pipeline.funnel.outcomes import OutcomeRecord, combined, skill_version_outcomes
from gtm_pipeline.funnel.outcomes import outcome_blockers as outcome_floor
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


def eval_bar(catalog: SkillCatalog, skill: str) -> str:
    """The group's eval bar in words (what ``gtm eval`` must show of the current version)."""
    group = catalog.skill(skill).group.spec
    return (
        f"at least {group.eval_min_accuracy:.0%} of cases passed, contract rate at least "
        f"{group.eval_min_contract_rate:.0%}, evidence rate at least {group.eval_min_evidence_rate:.0%}, "
        f"at most {group.eval_max_policy_violations} policy violation(s)"
    )


@dataclass(frozen=True)
class EvalRecord:
    """The newest journaled eval of a skill: of its current version and text, or of an older one."""

    entry_id: str
    at: str
    version: str
    code_version: str
    current: bool  # of the skill's current version and text
    summary: dict[str, Any]

    @property
    def models(self) -> str:
        return ", ".join(self.summary.get("models") or []) or "no provider call"


def latest_eval(store: Store, catalog: SkillCatalog, skill: str) -> EvalRecord | None:
    """The eval graduation judges: the newest of the current version and text, else the newest
    of any version (shown as out of date, never counted)."""
    current = catalog.skill(skill)
    newest: EvalRecord | None = None
    for entry in reversed(store.journal.entries(f"skill:{skill}")):
        if entry.kind != EVAL_KIND:
            continue
        payload = dict(entry.payload)
        record = EvalRecord(
            entry_id=entry.entry_id,
            at=entry.created_at.strftime("%Y-%m-%d %H:%M"),
            version=str(payload.get("version")),
            code_version=str(payload.get("code_version")),
            current=payload.get("code_version") == current.code_version,
            summary=payload,
        )
        if record.current:
            return record
        newest = newest or record
    return newest


def eval_blockers(evaluation: EvalRecord | None, catalog: SkillCatalog, skill: str) -> list[str]:
    """Why the eval record does not allow promotion (empty when a passing eval of the current
    version exists). The group's bar is applied now, to the recorded figures: raising the bar in
    GROUP.md takes effect at once, without re-running the eval."""
    current = catalog.skill(skill)
    run = f"run `gtm eval {skill}`"
    if evaluation is None:
        return [f"no eval of {skill}@{current.version} yet: {run}"]
    if not evaluation.current:
        return [
            f"the last eval was of {evaluation.version} (another version or text): "
            f"{skill}@{current.version} is unproven: {run}"
        ]
    problems = bar_problems(evaluation.summary, current.group.spec)
    if problems:
        return [
            f"eval of {skill}@{current.version} on {evaluation.models} fails the bar: " + "; ".join(problems)
        ]
    return []


def outcome_record(store: Store, catalog: SkillCatalog, skill: str) -> OutcomeRecord | None:
    """What the prospects the current version touched went on to do (meetings, wins), across the
    groups it ran in; None before it touched anyone."""
    return combined(skill_version_outcomes(store, skill, catalog.skill(skill).version))


def outcome_blockers(outcome: OutcomeRecord | None, catalog: SkillCatalog, skill: str) -> list[str]:
    """Where the current version's outcomes fall short of the group's floor (none set: nothing)."""
    group = catalog.skill(skill).group.spec
    return outcome_floor(
        outcome,
        min_meeting_rate=group.promote_min_meeting_rate,
        min_sample=group.promote_min_outcome_sample,
    )


def promotion_blockers(
    stats: SkillStats | None,
    catalog: SkillCatalog,
    skill: str,
    evaluation: EvalRecord | None = None,
    outcome: OutcomeRecord | None = None,
) -> list[str]:
    """Why ``skill`` may not be promoted now, each in words (empty when it may): the console shows
    the promote button only when this is empty, and lists these instead. Three kinds of evidence:
    the review record, a passing eval of the current version (none given: none exists), outcomes."""
    group = catalog.skill(skill).group.spec
    if not group.promote_to:
        return [f"group {group.name} names no promote_to group"]
    return [
        *review_blockers(stats, catalog, skill),
        *eval_blockers(evaluation, catalog, skill),
        *outcome_blockers(outcome, catalog, skill),
    ]


def review_blockers(stats: SkillStats | None, catalog: SkillCatalog, skill: str) -> list[str]:
    """Where the review record of the current version falls short of the group's bar."""
    group = catalog.skill(skill).group.spec
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
    evaluation = latest_eval(store, catalog, skill)
    outcome = outcome_record(store, catalog, skill)
    if direction == "promote":
        blockers = promotion_blockers(stats, catalog, skill, evaluation, outcome)
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
            "outcomes": None if outcome is None else outcome.as_dict(),
            "eval": None
            if evaluation is None or not evaluation.current
            else {
                "entry_id": evaluation.entry_id,
                "models": evaluation.summary.get("models"),
                "set_hash": evaluation.summary.get("set_hash"),
                **{
                    key: evaluation.summary.get(key)
                    for key in ("accuracy", "contract_rate", "evidence_rate", "policy_violations")
                },
            },
        },
    )
    return reloaded

"""What a skill version's drafts led to: the meetings and wins of the prospects it touched.

Graduation judged a drafting skill by the operator's approvals and edits alone; an approved draft
that never earns a reply is not a good draft. A skill version *touched* a prospect when an email it
drafted (as written or after an edit: the edited draft keeps its producer) was sent to them, first
touch or follow-up; a prospect touched by two versions counts for both. The record gives how many
were touched (the sample size), how many of them reached a meeting and a won deal, each as a rate
with its 95 % interval and the small-sample warning (:mod:`gtm_pipeline.funnel.stats`).

The record is read from the funnel the console keeps (:mod:`gtm_pipeline.funnel.cache`): the
skills page pays for it once per change of the journal, not once per view.

``outcome_blockers`` is the gate a group's ``promote_min_meeting_rate`` and
``promote_min_outcome_sample`` (GROUP.md) set on promotion, in words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gtm_pipeline.funnel.cache import cached_funnel
from gtm_pipeline.funnel.stats import Rate
from gtm_pipeline.store import Store

_OUTCOMES_SQL = """
WITH touched AS (
    SELECT DISTINCT d.skill, d.version, d."group", t.prospect_id
    FROM touches t JOIN drafts d USING (artifact_id)
    WHERE t.sent AND d.skill = ? AND (CAST(? AS VARCHAR) IS NULL OR d.version = ?)
)
SELECT touched.skill, touched.version, coalesce(touched."group", '') AS "group",
    count(*) AS touched,
    count(*) FILTER (WHERE r.meeting) AS meetings,
    count(*) FILTER (WHERE r.won) AS wins
FROM touched JOIN reach r ON r.id = touched.prospect_id
GROUP BY ALL
ORDER BY 1, 2, 3
"""


@dataclass(frozen=True)
class OutcomeRecord:
    """The outcomes of the prospects one skill version (in one group) touched."""

    skill: str
    version: str
    group: str
    touched: int
    meetings: int
    wins: int

    @property
    def sample_size(self) -> int:
        return self.touched

    @property
    def meeting_rate(self) -> Rate:
        return Rate(self.meetings, self.touched)

    @property
    def win_rate(self) -> Rate:
        return Rate(self.wins, self.touched)

    @property
    def small_sample(self) -> bool:
        return self.meeting_rate.small_sample

    def as_dict(self) -> dict[str, Any]:
        return {
            "skill": self.skill,
            "version": self.version,
            "group": self.group,
            "touched": self.touched,
            "meetings": self.meetings,
            "wins": self.wins,
            "meeting_rate": self.meeting_rate.as_dict(),
            "win_rate": self.win_rate.as_dict(),
        }


def skill_version_outcomes(store: Store, skill: str, version: str | None = None) -> list[OutcomeRecord]:
    """One record per version (and group) of ``skill`` that touched a prospect, only ``version``'s
    when given; a version that touched nobody yet has no record (its sample is 0)."""
    rows = cached_funnel(store).query(_OUTCOMES_SQL, [skill, version, version])
    return [
        OutcomeRecord(
            skill=str(r[0]),
            version=str(r[1]),
            group=str(r[2]),
            touched=int(r[3]),
            meetings=int(r[4]),
            wins=int(r[5]),
        )
        for r in rows
    ]


def combined(records: list[OutcomeRecord]) -> OutcomeRecord | None:
    """One version's records across groups as one (a version promoted mid-campaign touched
    prospects in both groups). Records of different versions are not combined: None."""
    if not records or len({(r.skill, r.version) for r in records}) != 1:
        return None
    return OutcomeRecord(
        skill=records[0].skill,
        version=records[0].version,
        group="+".join(sorted({r.group for r in records})),
        touched=sum(r.touched for r in records),
        meetings=sum(r.meetings for r in records),
        wins=sum(r.wins for r in records),
    )


def outcome_blockers(
    record: OutcomeRecord | None, *, min_meeting_rate: float | None, min_sample: int | None
) -> list[str]:
    """Why the outcomes do not yet allow promotion, in words (empty when they do, or when the group
    sets no outcome floor).

    The floor is judged only on a sample of at least ``min_sample`` touched prospects (a rate from
    five prospects would block or pass a skill by chance); below it the blocker says how many more
    are needed. At or above it, the observed meeting rate must reach ``min_meeting_rate``; the
    interval is shown so the operator sees how sure the figure is."""
    if not min_meeting_rate:
        return []
    needed = max(int(min_sample or 0), 1)
    touched = record.touched if record else 0
    if touched < needed:
        return [
            f"outcomes: {touched} touched prospect{'' if touched == 1 else 's'}, {needed} needed "
            f"before the meeting-rate floor ({min_meeting_rate:.0%}) can be judged ({needed - touched} more)"
        ]
    assert record is not None
    rate = record.meeting_rate
    if (rate.value or 0.0) < min_meeting_rate:
        return [f"meeting rate below the floor of {min_meeting_rate:.0%}: {rate.words}"]
    return []

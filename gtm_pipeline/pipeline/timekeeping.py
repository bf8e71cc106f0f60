"""Applying the time-based rules: plan (read-only) and apply (writes), kept apart.

``plan`` reads the journal through whatever store it is given and returns what is due; it
never writes. ``gtm dry-run`` hands it a store opened read-only (the database refuses
writes) and never constructs a provider or a sending client, so a dry run is side-effect
free by construction. The hourly Dagster schedule and ``gtm rules apply`` call ``plan``
and then ``apply`` on the same plan.

Two of them at once (a tick overlapping ``gtm rules apply``) plan the same rules; ``apply``
moves a prospect only while it is still in the state it was planned from (compare-and-set in
one transaction), so each rule is applied and journaled by one of them, never twice and never
as a rejected transition.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from gtm_pipeline.domain.history import fold
from gtm_pipeline.domain.rules import DAY, Due, TimePolicy, due_event, retention_due
from gtm_pipeline.domain.states import Decision, State
from gtm_pipeline.pipeline.privacy import erase
from gtm_pipeline.skills.catalog import SkillCatalog
from gtm_pipeline.sources.page_cache import PageCache
from gtm_pipeline.store import Store

TIMED_STATES = (State.AWAITING_REPLY, State.FOLLOW_UP_DUE, State.NOT_NOW)
SEQUENCE_SKILL = "draft-first-touch"


@dataclass(frozen=True)
class Planned:
    """A prospect with a rule due at the planned time."""

    prospect_id: str
    state: State
    due: Due | None
    retention: bool

    def describe(self) -> str:
        parts = []
        if self.due is not None:
            parts.append(
                f"{self.state.value} --{self.due.event.value}--> ({self.due.rule}: {self.due.rationale})"
            )
        if self.retention:
            parts.append("erase (retention: inactive past the retention period)")
        return f"{self.prospect_id}  " + "; ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        """The plan item for ``--json`` (ids and rule names only)."""
        due = self.due
        return {
            "prospect_id": self.prospect_id,
            "state": self.state.value,
            "event": due.event.value if due else None,
            "rule": due.rule if due else None,
            "rationale": due.rationale if due else None,
            "retention": self.retention,
        }


def sequence_policy(catalog: SkillCatalog) -> TimePolicy:
    """The follow-up discipline of the group that drafts the sequence."""
    group = catalog.skill(SEQUENCE_SKILL).group.spec
    return TimePolicy(
        follow_up_after_days=group.follow_up_after_days,
        max_follow_ups=group.follow_ups,
        unresponsive_after_days=group.unresponsive_after_days,
    )


def plan(store: Store, policy: TimePolicy, now: dt.datetime, retention_days: int) -> list[Planned]:
    """What the rules would do at ``now``. Reads only."""
    timed = {p.id for p in store.prospects.find(states=list(TIMED_STATES))}
    stale = set(store.prospects.inactive(now - retention_days * DAY)) if retention_days > 0 else set()
    planned = []
    for prospect_id in sorted(timed | stale):
        history = fold(store.journal.entries(prospect_id))
        due = due_event(history, policy, now) if prospect_id in timed else None
        retention = retention_due(history, retention_days, now) if prospect_id in stale else False
        if (due or retention) and history.state is not None:
            planned.append(Planned(prospect_id, history.state, due, retention))
    return planned


def apply(
    store: Store, planned: list[Planned], now: dt.datetime, *, pages: PageCache | None
) -> list[Decision]:
    """Carry out a plan: each rule's event through the transition table, journaled, for prospects
    still in the state planned from (a retention erasure empties ``pages``, the fetcher's cache,
    like any erasure; it is idempotent). Returns the transitions this call made."""
    decisions = []
    for item in planned:
        if item.due is not None:
            decision = store.prospects.apply_if(
                item.prospect_id,
                item.state,
                item.due.event,
                actor=item.due.rule,
                rationale=item.due.rationale,
                now=now,
                details=item.due.details,
            )
            if decision is not None:
                decisions.append(decision)
        if item.retention:
            erase(store, item.prospect_id, reason="retention", now=now, rights_request=False, pages=pages)
    store.escalations.raise_overdue_rights(now)  # a rights request past its due date escalates itself
    return decisions

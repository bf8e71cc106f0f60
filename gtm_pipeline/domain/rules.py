"""Time-based rules (pure, with the clock passed in).

* No reply ``follow_up_after_days`` after the last touch -> follow-up due, while the
  group's follow-up count is not used up.
* Then ``unresponsive_after_days`` after the last touch -> unresponsive.
* An out-of-office reply pauses both until its return date.
* ``not_now`` returns to research on its revisit date, carrying the signal that caused it.
* Retention: a prospect with no journal activity for ``retention_days`` is due for erasure.

The live schedule, ``gtm dry-run`` and the tests call the same functions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from gtm_pipeline.domain.history import History
from gtm_pipeline.domain.states import Event, State

DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class TimePolicy:
    """The sequence discipline of a group (from its GROUP.md)."""

    follow_up_after_days: int = 4
    max_follow_ups: int = 2
    unresponsive_after_days: int = 14


@dataclass(frozen=True)
class Due:
    """An event a rule says is due, with the rule's reasoning."""

    event: Event
    rule: str
    rationale: str
    details: dict[str, Any] = field(default_factory=dict)


def _not_before(moment: dt.datetime, paused_until: dt.datetime | None) -> dt.datetime:
    return max(moment, paused_until) if paused_until else moment


def due_event(history: History, policy: TimePolicy, now: dt.datetime) -> Due | None:
    """The time-based event due for this prospect at ``now``, if any."""
    state, last = history.state, history.last_touch
    if state in (State.AWAITING_REPLY, State.FOLLOW_UP_DUE) and last is not None:
        unresponsive_at = _not_before(last + policy.unresponsive_after_days * DAY, history.paused_until)
        follow_up_at = _not_before(last + policy.follow_up_after_days * DAY, history.paused_until)
        if (
            state is State.AWAITING_REPLY
            and history.follow_ups_sent < policy.max_follow_ups
            and now >= follow_up_at
        ):
            return Due(
                Event.NO_REPLY_TIMEOUT,
                "rule:follow-up@1",
                f"no reply {policy.follow_up_after_days} days after the last touch "
                f"({history.follow_ups_sent} of {policy.max_follow_ups} follow-ups sent)",
                {"last_touch": last.isoformat(), "follow_up_number": history.follow_ups_sent + 1},
            )
        if (
            state is State.FOLLOW_UP_DUE or history.follow_ups_sent >= policy.max_follow_ups
        ) and now >= unresponsive_at:
            return Due(
                Event.UNRESPONSIVE_TIMEOUT,
                "rule:unresponsive@1",
                f"no reply {policy.unresponsive_after_days} days after the last touch",
                {"last_touch": last.isoformat(), "touches": len(history.touches)},
            )
    if state is State.NOT_NOW and history.revisit_on is not None and now.date() >= history.revisit_on:
        return Due(
            Event.REVISIT_DUE,
            "rule:revisit@1",
            f"revisit date {history.revisit_on.isoformat()} reached",
            {"revisit_on": history.revisit_on.isoformat(), "signal": history.revisit_signal},
        )
    return None


def retention_due(history: History, retention_days: int, now: dt.datetime) -> bool:
    """Whether a prospect has been inactive long enough to be erased by the retention rule."""
    if history.erased or history.last_activity is None or retention_days <= 0:
        return False
    return now >= history.last_activity + retention_days * DAY

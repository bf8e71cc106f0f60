"""A prospect's history, folded from its journal (pure).

The journal is the source of truth: the current state, the touches sent, a not-now
revisit date and an out-of-office pause are all derived here from the entries, by
re-applying each recorded event through :func:`transition`. A recorded transition the table
would not produce is reported as a problem, naming the entry: that is what ``gtm replay
--check`` prints.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from gtm_pipeline.domain.states import Event, State, transition


class EntryLike(Protocol):
    """What the fold reads of a journal entry."""

    @property
    def entry_id(self) -> str: ...
    @property
    def seq(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def created_at(self) -> dt.datetime: ...
    @property
    def payload(self) -> dict[str, Any]: ...


@dataclass
class History:
    """What the journal says about one prospect."""

    state: State | None = None
    state_since: dt.datetime | None = None
    touches: list[dt.datetime] = field(default_factory=list)
    revisit_on: dt.date | None = None
    revisit_signal: str | None = None
    revisit_when: list[str] = field(default_factory=list)  # kinds of signal that reopen a not-now
    paused_until: dt.datetime | None = None
    last_activity: dt.datetime | None = None
    erased: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def last_touch(self) -> dt.datetime | None:
        return self.touches[-1] if self.touches else None

    @property
    def follow_ups_sent(self) -> int:
        return max(0, len(self.touches) - 1)


def _date(value: object) -> dt.date | None:
    return dt.date.fromisoformat(str(value)) if value else None


def fold(entries: Iterable[EntryLike]) -> History:
    """Rebuild a prospect's history from its journal entries, in order."""
    history = History()
    for entry in entries:
        history.last_activity = entry.created_at
        payload = entry.payload
        if entry.kind == "discovered":
            history.state, history.state_since = State.DISCOVERED, entry.created_at
            continue
        if entry.kind == "erasure":
            history.erased = True
            continue
        if entry.kind != "transition":
            continue
        try:
            event, recorded = Event(payload["event"]), State(payload["to_state"])
        except (KeyError, ValueError) as exc:
            history.problems.append(f"entry {entry.entry_id} (seq {entry.seq}): unreadable transition: {exc}")
            continue
        if history.state is None:
            history.problems.append(f"entry {entry.entry_id} (seq {entry.seq}): transition before discovery")
            continue
        decision = transition(history.state, event, entry.created_at)
        if not decision.allowed or decision.to_state is not recorded:
            history.problems.append(
                f"entry {entry.entry_id} (seq {entry.seq}): recorded {payload.get('from_state')} -> "
                f"{recorded.value} on {event.value}, but the table gives {decision.to_state.value} "
                f"from {history.state.value}"
            )
        if decision.to_state is not history.state:
            history.state_since = entry.created_at
        history.state = decision.to_state
        if event is Event.SENT:
            history.touches.append(entry.created_at)
            history.paused_until = None
        elif event is Event.NOT_NOW_REPLY:
            history.revisit_on = _date(payload.get("revisit_on"))
            history.revisit_signal = payload.get("signal")
            history.revisit_when = [str(k) for k in payload.get("revisit_when") or []]
        elif event is Event.OUT_OF_OFFICE:
            resume = _date(payload.get("resume_on"))
            history.paused_until = dt.datetime.combine(resume, dt.time(), tzinfo=dt.UTC) if resume else None
    return history

"""Time-based rules at their boundaries, with the clock passed in."""

from __future__ import annotations

import datetime as dt

import pytest

from gtm_pipeline.domain.history import History
from gtm_pipeline.domain.rules import TimePolicy, due_event, retention_due
from gtm_pipeline.domain.states import Event, State

T0 = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC)
EPS = dt.timedelta(microseconds=1)
POLICY = TimePolicy(follow_up_after_days=4, max_follow_ups=2, unresponsive_after_days=14)


def _history(state: State, touches: int = 1, **extra: object) -> History:
    history = History(state=state, touches=[T0 - dt.timedelta(days=10 * i) for i in range(touches)][::-1])
    for key, value in extra.items():
        setattr(history, key, value)
    return history


def test_follow_up_is_due_exactly_n_days_after_the_last_touch() -> None:
    history = _history(State.AWAITING_REPLY)
    assert due_event(history, POLICY, T0 + dt.timedelta(days=4) - EPS) is None
    due = due_event(history, POLICY, T0 + dt.timedelta(days=4))
    assert due is not None and due.event is Event.NO_REPLY_TIMEOUT
    assert due.details["follow_up_number"] == 1


def test_after_the_last_follow_up_unresponsive_is_due_fourteen_days_after_the_last_touch() -> None:
    history = _history(State.AWAITING_REPLY, touches=3)  # first touch + 2 follow-ups
    assert due_event(history, POLICY, T0 + dt.timedelta(days=4)) is None  # no third follow-up
    assert due_event(history, POLICY, T0 + dt.timedelta(days=14) - EPS) is None
    due = due_event(history, POLICY, T0 + dt.timedelta(days=14))
    assert due is not None and due.event is Event.UNRESPONSIVE_TIMEOUT


def test_a_follow_up_left_undrafted_still_ends_unresponsive() -> None:
    history = _history(State.FOLLOW_UP_DUE)
    assert due_event(history, POLICY, T0 + dt.timedelta(days=14) - EPS) is None
    due = due_event(history, POLICY, T0 + dt.timedelta(days=14))
    assert due is not None and due.event is Event.UNRESPONSIVE_TIMEOUT


def test_an_out_of_office_pauses_the_sequence_until_the_return_date() -> None:
    back = T0 + dt.timedelta(days=9)
    history = _history(State.AWAITING_REPLY, paused_until=back)
    assert due_event(history, POLICY, back - EPS) is None
    due = due_event(history, POLICY, back)
    assert due is not None and due.event is Event.NO_REPLY_TIMEOUT


def test_not_now_returns_on_its_revisit_date_with_the_signal() -> None:
    history = _history(State.NOT_NOW, revisit_on=dt.date(2027, 7, 1), revisit_signal="circle back in Q3")
    assert due_event(history, POLICY, dt.datetime(2027, 6, 30, 23, 59, tzinfo=dt.UTC)) is None
    due = due_event(history, POLICY, dt.datetime(2027, 7, 1, tzinfo=dt.UTC))
    assert due is not None and due.event is Event.REVISIT_DUE
    assert due.details == {"revisit_on": "2027-07-01", "signal": "circle back in Q3"}


@pytest.mark.parametrize(
    "state", [State.DO_NOT_CONTACT, State.REPLIED, State.AWAITING_REVIEW, State.UNRESPONSIVE]
)
def test_no_time_rule_touches_other_states(state: State) -> None:
    assert due_event(_history(state), POLICY, T0 + dt.timedelta(days=400)) is None


def test_retention_is_due_after_the_configured_inactivity() -> None:
    history = History(state=State.NOT_A_FIT, last_activity=T0)
    assert not retention_due(history, 365, T0 + dt.timedelta(days=365) - EPS)
    assert retention_due(history, 365, T0 + dt.timedelta(days=365))
    erased = History(state=State.DO_NOT_CONTACT, last_activity=T0, erased=True)
    assert not retention_due(erased, 365, T0 + dt.timedelta(days=999))

"""The transition table: explicit, total over (state, event), and safe by construction."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from gtm_pipeline.domain.history import fold
from gtm_pipeline.domain.states import DISQUALIFIED, STOP_EVENTS, TABLE, Event, State, transition

NOW = dt.datetime(2026, 11, 24, tzinfo=dt.UTC)
REACHABLE = {State.DISCOVERED} | set(TABLE.values())


def test_the_research_and_send_path_follows_the_table() -> None:
    path = [
        (State.DISCOVERED, Event.RESEARCH_STARTED, State.RESEARCHING),
        (State.RESEARCHING, Event.QUALIFIED, State.QUALIFIED),
        (State.QUALIFIED, Event.DRAFT_READY_FOR_REVIEW, State.AWAITING_REVIEW),
        (State.AWAITING_REVIEW, Event.DRAFT_APPROVED, State.APPROVED),
        (State.APPROVED, Event.SEND_SCHEDULED, State.SCHEDULED),
        (State.SCHEDULED, Event.SENT, State.SENT),
        (State.SENT, Event.DELIVERED, State.AWAITING_REPLY),
        (State.AWAITING_REPLY, Event.NO_REPLY_TIMEOUT, State.FOLLOW_UP_DUE),
        (State.FOLLOW_UP_DUE, Event.REPLY_RECEIVED, State.REPLIED),
        (State.REPLIED, Event.MEETING_BOOKED, State.MEETING_BOOKED),
        (State.MEETING_BOOKED, Event.DEAL_WON, State.WON),
    ]
    for state, event, expected in path:
        decision = transition(state, event, NOW)
        assert decision.allowed and decision.to_state is expected and decision.at == NOW


def test_every_disqualification_destination_is_reachable() -> None:
    assert DISQUALIFIED <= REACHABLE
    assert transition(State.RESEARCHING, Event.DISQUALIFIED, NOW).to_state is State.NOT_A_FIT
    assert transition(State.AWAITING_REPLY, Event.NOT_NOW_REPLY, NOW).to_state is State.NOT_NOW
    assert transition(State.SENT, Event.HARD_BOUNCED, NOW).to_state is State.UNREACHABLE
    assert transition(State.FOLLOW_UP_DUE, Event.UNRESPONSIVE_TIMEOUT, NOW).to_state is State.UNRESPONSIVE
    assert transition(State.APPROVED, Event.CONFLICT_DETECTED, NOW).to_state is State.CONFLICT


def test_an_event_the_table_does_not_allow_is_rejected_and_changes_nothing() -> None:
    decision = transition(State.DISCOVERED, Event.SENT, NOW)
    assert not decision.allowed
    assert decision.to_state is State.DISCOVERED
    assert "not allowed" in decision.reason


def test_a_stop_request_wins_from_every_state_and_do_not_contact_is_terminal() -> None:
    for state in State:
        for event in STOP_EVENTS:
            assert transition(state, event, NOW).to_state is State.DO_NOT_CONTACT
    for event in Event:
        decision = transition(State.DO_NOT_CONTACT, event, NOW)
        assert decision.to_state is State.DO_NOT_CONTACT
        assert decision.allowed == (event in STOP_EVENTS)


def test_only_a_scheduled_prospect_can_be_sent() -> None:
    senders = {source for (source, event), _target in TABLE.items() if event is Event.SENT}
    assert senders == {State.SCHEDULED}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(list(Event)), max_size=40))
def test_no_event_sequence_leaves_the_table_and_do_not_contact_never_reaches_sent(
    events: list[Event],
) -> None:
    state, seen_dnc = State.DISCOVERED, False
    for event in events:
        decision = transition(state, event, NOW)
        expected = TABLE.get((state, event), state)
        assert decision.to_state is expected
        assert decision.to_state in REACHABLE
        state = decision.to_state
        seen_dnc = seen_dnc or state is State.DO_NOT_CONTACT
        if seen_dnc:
            assert state is State.DO_NOT_CONTACT
            assert state is not State.SENT


class _Entry:
    def __init__(self, seq: int, kind: str, payload: dict[str, object]) -> None:
        self.entry_id, self.seq, self.kind, self.payload = f"j_{seq}", seq, kind, payload
        self.created_at = NOW + dt.timedelta(hours=seq)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(list(Event)), max_size=30))
def test_replaying_any_recorded_sequence_is_deterministic(events: list[Event]) -> None:
    state, entries = State.DISCOVERED, [_Entry(1, "discovered", {})]
    for seq, event in enumerate(events, start=2):
        decision = transition(state, event, NOW)
        if decision.allowed:  # only allowed transitions are recorded as transitions
            entries.append(
                _Entry(seq, "transition", {"event": event.value, "to_state": decision.to_state.value})
            )
            state = decision.to_state
    first, second = fold(entries), fold(entries)
    assert first.state is state and second.state is state
    assert first.problems == [] and first.touches == second.touches


def test_replay_reports_a_recorded_transition_the_table_would_not_make() -> None:
    entries = [
        _Entry(1, "discovered", {}),
        _Entry(2, "transition", {"event": "sent", "to_state": "sent", "from_state": "discovered"}),
    ]
    history = fold(entries)
    assert history.problems and "j_2" in history.problems[0]

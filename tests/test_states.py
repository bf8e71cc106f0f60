from __future__ import annotations

import datetime as dt

from gtm_pipeline.domain.states import DISQUALIFIED, Event, State, transition

NOW = dt.datetime(2026, 11, 24, tzinfo=dt.UTC)


def test_the_research_path_follows_the_table() -> None:
    path = [
        (State.DISCOVERED, Event.RESEARCH_STARTED, State.RESEARCHING),
        (State.RESEARCHING, Event.QUALIFIED, State.QUALIFIED),
        (State.QUALIFIED, Event.DRAFT_READY_FOR_REVIEW, State.AWAITING_REVIEW),
    ]
    for state, event, expected in path:
        decision = transition(state, event, NOW)
        assert decision.allowed and decision.to_state is expected and decision.at == NOW


def test_disqualification_is_a_first_class_destination() -> None:
    decision = transition(State.RESEARCHING, Event.DISQUALIFIED, NOW)
    assert decision.to_state is State.NOT_A_FIT and decision.to_state in DISQUALIFIED


def test_an_event_the_table_does_not_allow_is_rejected_and_changes_nothing() -> None:
    decision = transition(State.DO_NOT_CONTACT, Event.DRAFT_AUTO_APPROVED, NOW)
    assert not decision.allowed
    assert decision.to_state is State.DO_NOT_CONTACT
    assert "not allowed" in decision.reason
    for state in DISQUALIFIED:
        for event in Event:
            assert transition(state, event, NOW).to_state is state

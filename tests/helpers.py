"""Test helpers: run the pipeline steps and build histories through the real store."""

from __future__ import annotations

import datetime as dt

from gtm_pipeline.domain.states import Event
from gtm_pipeline.pipeline.discover import discover
from gtm_pipeline.pipeline.draft import build_context_pack, draft_first_touch
from gtm_pipeline.pipeline.research import augment, fetch_sources
from gtm_pipeline.pipeline.services import Services
from tests.conftest import HYPOTHESIS


def run_all(services: Services, hypothesis: str = HYPOTHESIS) -> list[str]:
    """Every step for every prospect of ``hypothesis``, as the Dagster graph runs them."""
    report = discover(services, services.hypotheses[hypothesis])
    for pid in report.prospect_ids:
        fetch_sources(services, pid)
        augment(services, pid)
        draft_first_touch(services, pid)
        build_context_pack(services, pid)
    return report.prospect_ids


def send_first_touch(services: Services, prospect_id: str, at: dt.datetime) -> None:
    """Approve, schedule, send and deliver, as the operator and the send step will."""
    store = services.store
    for minutes, event in enumerate(
        (Event.DRAFT_APPROVED, Event.SEND_SCHEDULED, Event.SENT, Event.DELIVERED)
    ):
        decision = store.prospects.apply_event(
            prospect_id,
            event,
            actor="test",
            rationale="test sequence",
            now=at + dt.timedelta(minutes=minutes),
        )
        assert decision.allowed, decision.reason

"""A small campaign built through the store's own API for the funnel tests (test_funnel.py,
test_console_funnel.py): prospects registered with discovery's verdict, moved through the
transition table, drafts stored with their producer, and touches written to the send ledger and
marked sent (so the journal names the touch). This module holds no tests of its own."""

from __future__ import annotations

from typing import Any

from gtm_pipeline.domain.ids import email_hash
from gtm_pipeline.domain.states import Event
from gtm_pipeline.store import Store
from gtm_pipeline.store.ledger import Touch
from gtm_pipeline.store.records import NewProspect

DRAFT_SKILL = "draft-first-touch"
GROUP = "writing-copilot"
ALPHA, BETA = "alpha-hypothesis", "beta-hypothesis"
V1, V2 = "1.0.0", "1.1.0"


def signal(kind: str, contribution: float, date: str = "2026-10-01") -> dict[str, Any]:
    """A discovery signal as discovery journals it (``Signal.as_dict``)."""
    return {
        "kind": kind,
        "date": date,
        "quote": f"a {kind} quote",
        "url": "https://example.com/news",
        "source": "corpus",
        "source_id": "s_1",
        "weight": contribution,
        "recency": 1.0,
        "contribution": contribution,
    }


class Campaign:
    """Builds prospects and their histories; every change goes through ``apply_event``."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.n = 0

    def prospect(
        self, hypothesis: str, signals: list[dict[str, Any]] | None = None, signal_type: str | None = None
    ) -> str:
        self.n += 1
        pid = f"p_funnel{self.n:04d}"
        payload: dict[str, Any] = {"hypothesis": hypothesis}
        if signals is not None:
            payload["signals"] = signals
        if signal_type is not None:
            payload["signal_type"] = signal_type
        if signals is None and signal_type is None:
            payload["origin"] = "import"
        added = self.store.prospects.add(
            NewProspect(
                id=pid,
                hypothesis_slug=hypothesis,
                company_domain=f"company-{self.n}.example",
                company_name=f"Company {self.n}",
                contact_email=f"person{self.n}@company-{self.n}.example",
            ),
            actor="test",
            payload=payload,
        )
        assert added
        return pid

    def apply(self, pid: str, event: Event, **details: Any) -> None:
        decision = self.store.prospects.apply_event(
            pid, event, actor="test", rationale="funnel test", details=details or None
        )
        assert decision.allowed, decision.reason

    def reject(self, pid: str, event: Event, **details: Any) -> None:
        """An event the table refuses in the prospect's state (journaled as ``transition_rejected``)."""
        decision = self.store.prospects.apply_event(
            pid, event, actor="test", rationale="funnel test", details=details or None
        )
        assert not decision.allowed

    def qualify(self, pid: str) -> None:
        self.apply(pid, Event.RESEARCH_STARTED)
        self.apply(pid, Event.QUALIFIED)

    def draft(self, pid: str, version: str, text: str = "first") -> str:
        artifact_id, _ = self.store.artifacts.add(
            prospect_id=pid,
            kind="draft",
            content=f'{{"draft": "{text} {version} {pid}"}}',
            meta={"skill": DRAFT_SKILL, "skill_version": version, "group": GROUP, "input_hash": "x"},
        )
        return artifact_id

    def send(self, pid: str, version: str, number: int = 1) -> None:
        """Draft with ``version``, review, approve, schedule, write the touch, mark it sent, deliver."""
        artifact = self.draft(pid, version, text=f"touch {number}")
        self.apply(pid, Event.DRAFT_READY_FOR_REVIEW)
        self.apply(pid, Event.DRAFT_APPROVED)
        self.apply(pid, Event.SEND_SCHEDULED)
        now = self.store.now()
        touch = self.store.ledger.open_touch(
            Touch(
                f"t_{pid}_{number}",
                pid,
                number,
                f"key/{pid}/{number}",
                f"<{pid}.{number}@mail.example>",
                artifact,
                "ana@mail.example",
                "mail.example",
                email_hash(f"{pid}@x.example"),
                {},
                "pending",
                None,
                0,
                now,
                None,
            )
        )
        decision = self.store.ledger.mark_sent(touch, f"re_{pid}_{number}", actor="test", rationale="sent")
        assert decision is not None and decision.allowed
        self.apply(pid, Event.DELIVERED)

    def reply(self, pid: str, category: str) -> None:
        events = {"not_now": Event.NOT_NOW_REPLY, "not_a_fit": Event.NOT_A_FIT_REPLY}
        self.apply(pid, events.get(category, Event.REPLY_RECEIVED), category=category, decided_by="rule")


def build(store: Store) -> Campaign:
    """Nine prospects whose histories cover every stage, each stage's edge cases included."""
    c = Campaign(store)
    c.prospect(ALPHA)  # p1: imported, never researched
    p2 = c.prospect(ALPHA, signal_type="product_launch")  # qualified and drafted, not sent
    c.qualify(p2)
    c.draft(p2, V1)
    p3 = c.prospect(ALPHA, [signal("hiring", 0.4)])  # written to, silence
    c.qualify(p3)
    c.send(p3, V1)
    p4 = c.prospect(ALPHA, [signal("hiring", 0.4)])  # a follow-up by V2, then "not now"
    c.qualify(p4)
    c.send(p4, V1)
    c.apply(p4, Event.NO_REPLY_TIMEOUT)
    c.send(p4, V2, number=2)
    c.reply(p4, "not_now")
    p5 = c.prospect(ALPHA, [signal("hiring", 0.2), signal("funding", 0.6)])  # all the way to won
    c.qualify(p5)
    c.send(p5, V1)
    c.reply(p5, "interested")
    c.apply(p5, Event.MEETING_BOOKED)
    c.apply(p5, Event.DEAL_WON)
    p6 = c.prospect(ALPHA, [signal("funding", 0.5)])  # a question, then a meeting, no deal yet
    c.qualify(p6)
    c.send(p6, V2)
    c.reply(p6, "question")
    c.apply(p6, Event.MEETING_BOOKED)
    p7 = c.prospect(ALPHA)  # researched, not a fit
    c.apply(p7, Event.RESEARCH_STARTED)
    c.apply(p7, Event.DISQUALIFIED)
    # p8: a tie between two signals (the earlier one is the stronger, as on the review card);
    # a first reply "other", then an interested one the table refuses in `replied`: still positive
    p8 = c.prospect(
        BETA, [signal("regulatory_event", 0.3, "2026-10-01"), signal("hiring", 0.3, "2026-09-01")]
    )
    c.qualify(p8)
    c.send(p8, V2)
    c.reply(p8, "other")
    c.reject(p8, Event.REPLY_RECEIVED, category="interested", decided_by="skill")
    p9 = c.prospect(BETA, [signal("funding", 0.9)])  # an out-of-office is not a reply
    c.qualify(p9)
    c.send(p9, V2)
    c.apply(p9, Event.OUT_OF_OFFICE, category="out_of_office", decided_by="rule")
    return c

"""What the CLI shows an operator: the counts ``gtm demo`` prints, what ``gtm status`` lists as
waiting, and the spend ``gtm costs`` breaks down (ids and counts only).

Where the inputs went (``inputs_status``: imports, pages refused, prospects that left before a touch)
is re-exported from :mod:`gtm_pipeline.pipeline.inputs_report`: the console's board shows the same
figures, and the console may not import the CLI."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from gtm_pipeline.domain.states import DISQUALIFIED, State
from gtm_pipeline.pipeline.inputs_report import inputs_status as inputs_status
from gtm_pipeline.store import Store
from gtm_pipeline.store.reviews import review_key

QUALIFIED_OR_LATER = frozenset(State) - DISQUALIFIED - {State.DISCOVERED, State.RESEARCHING}


@dataclass(frozen=True)
class Summary:
    """The pipeline at a glance (ids and counts only)."""

    prospects: int
    qualified: int
    drafted: int
    waiting_for_review: int
    dead_lettered: int
    by_state: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(store: Store) -> Summary:
    by_state = store.prospects.counts_by_state()
    return Summary(
        prospects=sum(by_state.values()),
        qualified=sum(n for state, n in by_state.items() if State(state) in QUALIFIED_OR_LATER),
        drafted=store.artifacts.count_prospects_with("draft"),
        waiting_for_review=len(store.reviews.pending()),
        dead_lettered=len(store.dead_letters.open()),
        by_state=dict(sorted(by_state.items())),
    )


def waiting_for_operator(store: Store, sending_domain: str | None = None) -> dict[str, Any]:
    """What the operator must look at: reviews, rights requests, dead letters, escalations, sending
    (``sending_domain``: the workspace's own, whose halt shows even before it sent anything)."""
    today = store.now().replace(hour=0, minute=0, second=0, microsecond=0)
    waits = store.journal.of_kind("spend_cap_wait", today)
    waiting = {
        "spend_cap_waits_today": sorted({f"{e.payload.get('group')}:{e.subject}" for e in waits}),
        "rights_requests_open": [
            {
                "id": r["id"],
                "kind": r["kind"],
                "due": r["due_at"].isoformat(),
                "prospect_id": r["prospect_id"],
            }
            for r in store.privacy.rights_requests(status="open")
        ],
        "reviews": [
            {
                "id": r.id,
                "key": review_key(r.artifact_id),
                "prospect_id": r.prospect_id,
                "kind": r.kind,
                "artifact_id": r.artifact_id,
                "since": r.created_at.isoformat(),
            }
            for r in store.reviews.pending()
        ],
        "dead_letters": store.dead_letters.open(),
        "sending": sending_status(store, sending_domain),
        "escalations": [
            {
                "id": e.id,
                "kind": e.kind,
                "subject": e.subject,
                "detail": e.detail,
                "since": e.created_at.isoformat(),
            }
            for e in store.escalations.open()
        ],
    }
    return _with_company_names(store, waiting)


def _with_company_names(store: Store, waiting: dict[str, Any]) -> dict[str, Any]:
    """Put the company's name beside every prospect id the operator is shown (ids alone read as
    noise). An escalation's subject is a prospect id when it is about one; other subjects stay."""
    rows: list[dict[str, Any]] = [
        *waiting["rights_requests_open"],
        *waiting["reviews"],
        *waiting["dead_letters"],
        *waiting["sending"]["needs_operator"],
    ]
    ids = {str(r.get("prospect_id") or "") for r in rows}
    ids |= {str(e.get("subject") or "") for e in waiting["escalations"]}
    names = store.prospects.company_names(ids)
    for row in rows:
        row["company"] = names.get(str(row.get("prospect_id") or ""))
    for esc in waiting["escalations"]:
        esc["company"] = names.get(str(esc.get("subject") or ""))
    return waiting


def sending_status(store: Store, sending_domain: str | None = None) -> dict[str, Any]:
    """Whether sending is on, the outbox by status, touches that need a decision, unmatched inbound
    events, domain halts."""
    ledger = store.ledger
    touches = ledger.touches_with_status(
        "pending", "sending", "sent", "refused", "failed", "uncertain", "cancelled"
    )
    by_status: dict[str, int] = {}
    for touch in touches:
        by_status[touch.status] = by_status.get(touch.status, 0) + 1
    halted = {
        domain: str(entry.payload.get("reason"))
        for domain in sorted(
            {t.sending_domain for t in touches} | ({sending_domain} if sending_domain else set())
        )
        if (entry := ledger.halt(domain)) is not None
    }
    switch = ledger.sending_switch()
    return {
        "switch": {
            "on": ledger.sending_on(),
            "since": switch.created_at.isoformat() if switch else None,
            "by": switch.actor if switch else None,
            "reason": switch.payload.get("reason") if switch else None,
        },
        "touches": by_status,
        "needs_operator": [
            {"touch_id": t.touch_id, "prospect_id": t.prospect_id, "status": t.status}
            for t in touches
            if t.status in ("failed", "uncertain")
        ],
        "unmatched_events": sum(1 for o in store.inbox.outcomes() if o["status"] == "unmatched"),
        "halted_domains": halted,
    }


def cost_report(store: Store, top: int = 10) -> dict[str, Any]:
    """Spend from the ledger (every call, failed contracts too) and the journal (per skill and prospect)."""
    per_skill: dict[str, float] = {}
    per_prospect: dict[str, float] = {}
    for subject in store.journal.subjects():
        for entry in store.journal.entries(subject):
            if entry.kind != "skill_result":
                continue
            producer = (
                (entry.payload.get("result") or {}).get("producer") or entry.payload.get("producer") or {}
            )
            cost = float(producer.get("cost_usd") or 0.0)
            skill = f"{producer.get('skill')}@{producer.get('skill_version')}"
            per_skill[skill] = per_skill.get(skill, 0.0) + cost
            per_prospect[subject] = per_prospect.get(subject, 0.0) + cost
    ledger = store.spend.rows()
    costliest = sorted(per_prospect.items(), key=lambda kv: -kv[1])[:top]
    return {
        "ledger": ledger,
        "per_skill": dict(sorted(per_skill.items())),
        "top_prospects": dict(costliest),
        "total_usd": round(sum(r["cost_usd"] for r in ledger), 6),
    }

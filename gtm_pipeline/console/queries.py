"""Read models of the console: what each page shows, in a few indexed queries each.

Pages must stay fast with 100,000 prospects: counts are single GROUP BY queries, lists are
paged, and a prospect's timeline reads only that prospect's rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from gtm_pipeline.console.why_here import why_here
from gtm_pipeline.domain.contracts import (
    ContextPackFinding,
    DraftFinding,
    ProfileFinding,
    SkillResult,
    result_model,
)
from gtm_pipeline.domain.states import Event, State
from gtm_pipeline.pipeline.inputs_report import LEFT_IN_STATE, inputs_status
from gtm_pipeline.store import ArtifactRecord, Store
from gtm_pipeline.store import schema as t
from gtm_pipeline.store.contacts import ContactRecord

PAGE_SIZE = 50
STAGES = (
    ("discovered", {"discovered"}),
    ("qualified", {"qualified"}),
    ("approved", {"approved"}),
    ("sent", {"sent"}),
    ("replied", {"replied"}),
    ("meeting", {"meeting_booked"}),
)


@dataclass
class Board:
    counts: dict[str, int]
    hypotheses: list[str]
    rows: list[dict[str, Any]]
    total: int
    page: int
    pages: int
    filters: dict[str, Any] = field(default_factory=dict)


def board(
    store: Store,
    *,
    hypothesis: str | None = None,
    state: str | None = None,
    group: str | None = None,
    min_age_days: int | None = None,
    page: int = 1,
    now: dt.datetime | None = None,
) -> Board:
    """Prospects by state, filtered and paged."""
    p = t.prospects
    where: list[sa.ColumnElement[bool]] = []
    if hypothesis:
        where.append(p.c.hypothesis_slug == hypothesis)
    if min_age_days:
        cutoff = (now or store.now()) - dt.timedelta(days=min_age_days)
        where.append(p.c.state_since <= cutoff)
    if group:
        drafted_in_group = (
            sa.select(t.artifacts.c.prospect_id)
            .where(t.artifacts.c.kind == "draft", t.artifacts.c.meta["group"].as_string() == group)
            .scalar_subquery()
        )
        where.append(p.c.id.in_(drafted_in_group))
    with store.reading() as c:
        counts = {
            str(r.state): int(r.n)
            for r in c.execute(
                sa.select(p.c.state, sa.func.count().label("n")).where(*where).group_by(p.c.state)
            )
        }
        hypotheses = [str(r[0]) for r in c.execute(sa.select(p.c.hypothesis_slug).distinct())]
        listed = [*where, p.c.state == state] if state else where
        total = int(c.execute(sa.select(sa.func.count()).select_from(p).where(*listed)).scalar() or 0)
        page = max(1, page)
        rows = [
            dict(r._mapping)
            for r in c.execute(
                sa.select(p.c.id, p.c.company_name, p.c.hypothesis_slug, p.c.state, p.c.state_since)
                .where(*listed)
                .order_by(p.c.state_since.desc(), p.c.id)
                .limit(PAGE_SIZE)
                .offset((page - 1) * PAGE_SIZE)
            )
        ]
    ordered = {s.value: counts.get(s.value, 0) for s in State if counts.get(s.value)}
    return Board(
        counts=ordered,
        hypotheses=sorted(hypotheses),
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        filters={"hypothesis": hypothesis, "state": state, "group": group, "min_age_days": min_age_days},
    )


def inputs(store: Store, days: int = 7) -> dict[str, Any]:
    """Where the last ``days`` of inputs went, as ``gtm status`` shows it (counts, reasons and the
    operator's own file names only), each reason a prospect left for with the state it is in now."""
    shown = inputs_status(store, days)
    shown["left"] = [
        {"why": why, "count": n, "state": state.value if (state := LEFT_IN_STATE.get(why)) else None}
        for why, n in shown["left_the_funnel"].items()
    ]
    shown["empty"] = not (
        shown["imports"]
        or shown["fetch_refused"]
        or shown["fetch_off"]
        or shown["left_the_funnel"]
        or shown["discovery"]
    )
    return shown


def _sources(store: Store, prospect_id: str) -> dict[str, ArtifactRecord]:
    return {a.source_id or a.id: a for a in store.artifacts.of_kind(prospect_id, "raw_source")}


def _parsed(artifact: ArtifactRecord | None, model: type[Any]) -> SkillResult[Any] | None:
    if artifact is None or not artifact.content:
        return None
    try:
        return result_model(model).model_validate_json(artifact.content)
    except ValueError:
        return None


def _evidence(result: SkillResult[Any] | None, sources: dict[str, ArtifactRecord]) -> list[dict[str, Any]]:
    if result is None:
        return []
    return [
        {
            "source_id": e.source_id,
            "quote": e.quote,
            "url": sources[e.source_id].url if e.source_id in sources else e.url,
        }
        for e in result.evidence
    ]


def review_items(store: Store, limit: int = 50) -> list[dict[str, Any]]:
    """Pending review items, each with its draft, the profile beside it, evidence and rationale."""
    query = (
        sa.select(t.review_queue)
        .where(t.review_queue.c.status == "pending")
        .order_by(t.review_queue.c.created_at, t.review_queue.c.id)
        .limit(limit)
    )
    with store.reading() as c:
        items = [dict(r._mapping) for r in c.execute(query)]
    shown = []
    for item in items:
        pid = str(item["prospect_id"])
        prospect = store.prospects.get(pid)
        draft = _parsed(store.artifacts.get(str(item["artifact_id"])), DraftFinding)
        profile = _parsed(store.artifacts.latest(pid, "profile"), ProfileFinding)
        sources = _sources(store, pid)
        artifact = store.artifacts.get(str(item["artifact_id"]))
        shown.append(
            {
                **item,
                "prospect": prospect,
                "draft": draft,
                "profile": profile,
                "draft_evidence": _evidence(draft, sources),
                "profile_evidence": _evidence(profile, sources),
                "why": why_here(store, pid),
                "meta": artifact.meta if artifact else {},
            }
        )
    return shown


def dead_letters(store: Store) -> list[dict[str, Any]]:
    query = (
        sa.select(t.dead_letters)
        .where(t.dead_letters.c.resolved_at.is_(None))
        .order_by(t.dead_letters.c.id.desc())
        .limit(200)
    )
    with store.reading() as c:
        return [dict(r._mapping) for r in c.execute(query)]


def timeline(store: Store, prospect_id: str) -> dict[str, Any] | None:
    """Everything about one prospect: journal (newest first), artifacts, evidence, touches, events."""
    prospect = store.prospects.get(prospect_id)
    if prospect is None:
        return None
    sources = _sources(store, prospect_id)
    profile = _parsed(store.artifacts.latest(prospect_id, "profile"), ProfileFinding)
    ledger = store.ledger
    journal = list(reversed(store.journal.entries(prospect_id)))
    pack = store.artifacts.latest(prospect_id, "context_pack")
    return {
        "prospect": prospect,
        "journal": journal,
        "sources": list(sources.values()),
        "profile": profile,
        "profile_evidence": _evidence(profile, sources),
        "why": why_here(store, prospect_id, list(reversed(journal))),
        "drafts": store.artifacts.of_kind(prospect_id, "draft"),
        "touches": ledger.touches(prospect_id),
        "events": ledger.events(prospect_id),
        "context_pack": _parsed(pack, ContextPackFinding),
        "unreachable": _unreachable(store, prospect_id, journal)
        if prospect.state is State.UNREACHABLE
        else None,
    }


# Why a contact the pipeline holds is not the addressee of a first touch (its flags, no PII).
CONTACT_FLAGS = {
    "role": "a role address (read by whoever is on duty), never the addressee",
    "free_mail": "a free-mail address (a private mailbox), never written to about business",
    "unverified": "the export marked the address unverified",
    "undeliverable": "the address's domain takes no mail",
}


def _unreachable(store: Store, prospect_id: str, journal: list[Any]) -> dict[str, Any] | None:
    """Why a prospect in ``unreachable`` has nobody to write to: the verdict's journal entry and each
    contact considered with why it is not usable (None when it is unreachable for another reason)."""
    verdict = next((e for e in journal if e.payload.get("event") == Event.NO_REACHABLE_CONTACT.value), None)
    if verdict is None:
        return None
    return {
        "entry": verdict,
        "contacts": [
            {"contact": c, "why_not": contact_unusable_because(store, c)}
            for c in store.contacts.of(prospect_id)
        ],
    }


def contact_unusable_because(store: Store, contact: ContactRecord) -> str:
    """Why ``contact`` is not a first touch's addressee, in words (its flags, a missing address, an
    erasure or a suppression)."""
    if contact.tombstoned:
        return "erased"
    if contact.email is None:
        return "no address: none was imported or published for this person"
    reasons = [CONTACT_FLAGS.get(flag, flag) for flag in contact.flags]
    if contact.email_hash and store.privacy.suppression_reason(contact.email_hash) is not None:
        reasons.append("the address is suppressed")
    return "; ".join(reasons) or "usable now (found after the verdict): reopen the prospect to write to them"


def rights(store: Store) -> list[dict[str, Any]]:
    return store.privacy.rights_requests()


def funnel(store: Store) -> dict[str, list[tuple[str, int]]]:
    """Per hypothesis: how many prospects ever reached each stage (from the journal)."""
    to_state = t.journal.c.payload["to_state"].as_string()
    query = (
        sa.select(
            t.prospects.c.hypothesis_slug,
            to_state.label("to_state"),
            sa.func.count(sa.distinct(t.journal.c.subject)),
        )
        .join(t.prospects, t.prospects.c.id == t.journal.c.subject)
        .where(t.journal.c.kind.in_(["transition", "discovered"]))
        .group_by(t.prospects.c.hypothesis_slug, to_state)
    )
    reached: dict[str, dict[str, int]] = {}
    with store.reading() as c:
        for slug, state, n in c.execute(query):
            reached.setdefault(str(slug), {})[str(state)] = int(n)
    return {
        slug: [(label, sum(states.get(s, 0) for s in members)) for label, members in STAGES]
        for slug, states in sorted(reached.items())
    }


def weekly_rates(store: Store, weeks: int = 12) -> list[dict[str, Any]]:
    """Sends, replies and positive replies per ISO week; auto-replies and bounces are not replies."""
    event = t.journal.c.payload["event"].as_string()
    category = t.journal.c.payload["category"].as_string()
    query = sa.select(t.journal.c.created_at, event, category).where(
        t.journal.c.kind == "transition",
        event.in_(["sent", "reply_received", "not_now_reply", "not_a_fit_reply", "unsubscribed"]),
    )
    rows: dict[str, dict[str, int]] = {}
    with store.reading() as c:
        for created, name, cat in c.execute(query):
            year, week, _ = created.isocalendar()
            bucket = rows.setdefault(f"{year}-W{week:02d}", {"sent": 0, "replies": 0, "positive": 0})
            if name == "sent":
                bucket["sent"] += 1
            elif name != "unsubscribed" or cat:
                bucket["replies"] += 1
                bucket["positive"] += int(cat in ("interested", "question", "referral"))
    result = []
    for key in sorted(rows)[-weeks:]:
        b = rows[key]
        sent = b["sent"]
        result.append(
            {
                "week": key,
                **b,
                "reply_rate": b["replies"] / sent if sent else 0.0,
                "positive_rate": b["positive"] / sent if sent else 0.0,
            }
        )
    return result

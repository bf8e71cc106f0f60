"""The review queue as the operator triages it, for the console and the CLI alike.

Items are named by their stable key (:func:`gtm_pipeline.store.reviews.review_key`), filtered by
hypothesis, skill group and the draft's confidence, and each card carries what a decision needs in
one screen: the draft, the score and signal that qualified the prospect, and the evidence once
(the draft and the profile often quote the same sentence of the same page).
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from gtm_pipeline.console.why_here import WhyHere, why_here
from gtm_pipeline.domain.contracts import DraftFinding, ProfileFinding, SkillResult, result_model
from gtm_pipeline.store import ArtifactRecord, Store
from gtm_pipeline.store import schema as t
from gtm_pipeline.store.reviews import review_key

PAGE = 50
# Why a draft is rejected, most often: offered first, free text always possible (journaled as typed).
REJECT_REASONS = (
    "opener misreads the signal",
    "too generic",
    "wrong tone",
    "wrong person or role",
    "not a fit after all",
)


@dataclass(frozen=True)
class ReviewFilters:
    """What the operator narrowed the queue to; confidences are whole percents (0-100)."""

    hypothesis: str | None = None
    group: str | None = None
    min_confidence: int | None = None
    max_confidence: int | None = None

    def query(self) -> dict[str, str]:
        """The filters as query-string values (for links that keep them)."""
        raw = {
            "hypothesis": self.hypothesis,
            "group": self.group,
            "min_conf": self.min_confidence,
            "max_conf": self.max_confidence,
        }
        return {k: str(v) for k, v in raw.items() if v is not None and v != ""}

    def admits(self, confidence: float | None) -> bool:
        if confidence is None:
            return self.min_confidence is None and self.max_confidence is None
        percent = confidence * 100
        low_ok = self.min_confidence is None or percent >= self.min_confidence - 1e-9
        return low_ok and (self.max_confidence is None or percent <= self.max_confidence + 1e-9)


@dataclass(frozen=True)
class Queued:
    """One pending item in queue order, before its card is built."""

    id: int
    key: str
    prospect_id: str
    artifact_id: str
    confidence: float | None


def ordered(
    store: Store, filters: ReviewFilters | None = None, *, with_confidence: bool = False
) -> list[Queued]:
    """Every pending item the filters admit, oldest first (one query; confidence read from the
    draft's JSON, as the content column is text on every database, only when a confidence filter
    or ``with_confidence`` asks for it: a long queue is then a scan of ids only)."""
    f = filters or ReviewFilters()
    confidences = with_confidence or f.min_confidence is not None or f.max_confidence is not None
    q, a, p = t.review_queue, t.artifacts, t.prospects
    where: list[sa.ColumnElement[bool]] = [q.c.status == "pending"]
    if f.hypothesis:
        where.append(p.c.hypothesis_slug == f.hypothesis)
    if f.group:
        where.append(a.c.meta["group"].as_string() == f.group)
    query = (
        sa.select(q.c.id, q.c.prospect_id, q.c.artifact_id, a.c.content if confidences else sa.null())
        .join(a, a.c.id == q.c.artifact_id)
        .join(p, p.c.id == q.c.prospect_id)
        .where(*where)
        .order_by(q.c.created_at, q.c.id)
    )
    with store.reading() as c:
        rows = list(c.execute(query))
    found = []
    for row in rows:
        confidence = _confidence(row[3]) if confidences else None
        if not confidences or f.admits(confidence):
            found.append(
                Queued(int(row.id), review_key(row.artifact_id), row.prospect_id, row.artifact_id, confidence)
            )
    return found


def _confidence(content: str | None) -> float | None:
    try:
        value = json.loads(content or "").get("confidence")
    except (ValueError, AttributeError):
        return None
    return float(value) if isinstance(value, int | float) else None


def options(store: Store) -> dict[str, list[str]]:
    """The hypotheses and skill groups that have pending items (the filter's choices)."""
    q, a, p = t.review_queue, t.artifacts, t.prospects
    pending = q.c.status == "pending"
    with store.reading() as c:
        hyps = c.execute(
            sa.select(p.c.hypothesis_slug).join(q, q.c.prospect_id == p.c.id).where(pending).distinct()
        )
        hypotheses = sorted(str(r[0]) for r in hyps)
        metas = c.execute(sa.select(a.c.meta).join(q, q.c.artifact_id == a.c.id).where(pending))
        groups = sorted({str((m[0] or {}).get("group")) for m in metas if (m[0] or {}).get("group")})
    return {"hypotheses": hypotheses, "groups": groups}


def sources(store: Store, prospect_id: str) -> dict[str, ArtifactRecord]:
    return {a.source_id or a.id: a for a in store.artifacts.of_kind(prospect_id, "raw_source")}


def parsed(artifact: ArtifactRecord | None, model: type[Any]) -> SkillResult[Any] | None:
    if artifact is None or not artifact.content:
        return None
    try:
        return result_model(model).model_validate_json(artifact.content)
    except ValueError:
        return None


def _norm(quote: str) -> str:
    return re.sub(r"\W+", " ", quote).strip().casefold()


def deduplicated(
    named: list[tuple[str, SkillResult[Any] | None]], found: dict[str, ArtifactRecord]
) -> list[dict[str, Any]]:
    """Each quote once, with every result that cites it (``used_by``).

    The same sentence (up to case, spacing and punctuation) from the same source is one piece of
    evidence; a quote contained in a longer quote of the same source is folded into the longer."""
    shown: list[dict[str, Any]] = []
    for name, result in named:
        for e in result.evidence if result is not None else []:
            url = found[e.source_id].url if e.source_id in found else e.url
            norm = _norm(e.quote)
            same = next(
                (s for s in shown if s["source_id"] == e.source_id and (norm in s["_n"] or s["_n"] in norm)),
                None,
            )
            if same is None:
                shown.append(
                    {"source_id": e.source_id, "quote": e.quote, "url": url, "used_by": [name], "_n": norm}
                )
                continue
            if len(norm) > len(same["_n"]):
                same.update(quote=e.quote, _n=norm)
            if name not in same["used_by"]:
                same["used_by"].append(name)
    return [{k: v for k, v in s.items() if k != "_n"} for s in shown]


def card(store: Store, item: Queued | int) -> dict[str, Any] | None:
    """Everything one review card shows (JSON-ready except ``why``, a :class:`WhyHere`)."""
    with store.reading() as c:
        row = c.execute(
            sa.select(t.review_queue).where(
                t.review_queue.c.id == (item if isinstance(item, int) else item.id)
            )
        ).first()
    if row is None:
        return None
    r = dict(row._mapping)
    pid = str(r["prospect_id"])
    prospect = store.prospects.get(pid)
    artifact = store.artifacts.get(str(r["artifact_id"]))
    draft = parsed(artifact, DraftFinding)
    profile = parsed(store.artifacts.latest(pid, "profile"), ProfileFinding)
    found = sources(store, pid)
    meta = artifact.meta if artifact else {}
    why = why_here(store, pid)
    shown_profile = _profile(profile)
    return {
        "id": int(r["id"]),
        "key": review_key(str(r["artifact_id"])),
        "kind": r["kind"],
        "status": r["status"],
        "reason": r["reason"],
        "created_at": r["created_at"],
        "prospect_id": pid,
        "artifact_id": r["artifact_id"],
        "company": prospect.company_name if prospect else None,
        "domain": prospect.company_domain if prospect else None,
        "hypothesis": prospect.hypothesis_slug if prospect else None,
        "state": prospect.state.value if prospect else None,
        "skill": meta.get("skill"),
        "skill_version": meta.get("skill_version"),
        "group": meta.get("group"),
        "violations": list(meta.get("violations") or []),
        "blocked": bool(meta.get("blocked")),
        "draft": _draft(draft),
        "profile": shown_profile,
        "evidence": deduplicated([("draft", draft), ("profile", profile)], found),
        "why": why,
        "qualified_by": _qualified_by(why, shown_profile),
    }


def _draft(result: SkillResult[Any] | None) -> dict[str, Any] | None:
    if result is None:
        return None
    finding = result.finding
    return {
        "subject": finding.subject,
        "body": finding.body,
        "rationale": result.rationale,
        "confidence": result.confidence,
        "opener_source_id": finding.opener_source_id,
    }


def _profile(result: SkillResult[Any] | None) -> dict[str, Any] | None:
    if result is None:
        return None
    finding = result.finding
    return {
        "summary": finding.summary,
        "fit": finding.fit,
        "fit_score": finding.fit_score,
        "rationale": result.rationale,
    }


def _qualified_by(why: WhyHere | None, profile: dict[str, Any] | None) -> dict[str, Any]:
    """The one line a reviewer reads first: discovery's score, its strongest signal, the fit."""
    top = next((s for s in why.signals if not s.observed_later), None) if why else None
    return {
        "score": why.score if why else None,
        "signal": dataclasses.asdict(top) if top else None,
        "fit": profile["fit"] if profile else None,
        "fit_score": profile["fit_score"] if profile else None,
    }


def cards(store: Store, filters: ReviewFilters | None = None, limit: int = PAGE) -> list[dict[str, Any]]:
    """The first ``limit`` pending cards the filters admit, in queue order."""
    return [c for q in ordered(store, filters)[:limit] if (c := card(store, q)) is not None]


def position(
    store: Store, key: str, filters: ReviewFilters | None = None
) -> tuple[int | None, int, str | None, str | None]:
    """Where ``key`` sits in the filtered queue: (1-based index or None, total, previous, next)."""
    keys = [q.key for q in ordered(store, filters)]
    if key not in keys:
        return None, len(keys), None, keys[0] if keys else None
    i = keys.index(key)
    return i + 1, len(keys), keys[i - 1] if i else None, keys[i + 1] if i + 1 < len(keys) else None


def following(store: Store, key: str, filters: ReviewFilters | None, before: list[str]) -> str | None:
    """The next pending key after a decided one: the first of the queue (as it was, ``before``)
    that follows ``key`` and is still pending, else the first pending one."""
    now = [q.key for q in ordered(store, filters)]
    pending = set(now)
    after = before[before.index(key) + 1 :] if key in before else []
    return next((k for k in after if k in pending), now[0] if now else None)


def as_json(view: dict[str, Any]) -> dict[str, Any]:
    """A card as plain JSON (the CLI's ``--json``): the why-here as a dict, times as ISO text."""
    out = dict(view)
    why = out.pop("why")
    out["why"] = dataclasses.asdict(why) if why else None
    if out["why"] is not None:
        out["why"]["found_by"] = list(out["why"]["found_by"])
    out["created_at"] = view["created_at"].isoformat() if view.get("created_at") else None
    return out

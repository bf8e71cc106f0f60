"""Offline research: discovery (the dated signal, quoted) and the profile (rubric scores from quotes)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from gtm_pipeline.domain.contracts import Alternative, DiscoveryFinding, ProfileFinding, RubricScore, Signal
from gtm_pipeline.domain.hypothesis import Hypothesis
from gtm_pipeline.domain.sources import SourceDoc
from gtm_pipeline.providers.base import SkillRequest
from gtm_pipeline.providers.offline.common import confidence, in_window, refs
from gtm_pipeline.providers.offline.text import (
    Sentence,
    all_sentences,
    matched_keywords,
    sentences,
    shorten,
    unique,
)

GENERIC_INDUSTRIES = (
    "healthcare",
    "hospital",
    "clinic",
    "pharmacy",
    "health",
    "fintech",
    "bank",
    "insurance",
    "retail",
    "e-commerce",
    "logistics",
    "freight",
    "manufacturing",
    "education",
    "edtech",
    "media",
    "gaming",
    "energy",
    "construction",
    "hospitality",
    "agriculture",
    "legal",
)
_HEADCOUNT_WORDS = ("employees", "people", "staff", "team members", "colleagues")


def discover(request: SkillRequest) -> dict[str, Any]:
    hypothesis = Hypothesis.model_validate(request.inputs["hypothesis"])
    as_of = dt.date.fromisoformat(request.inputs["as_of"])
    dated = [doc for doc in request.sources if doc.published_on is not None]
    fresh = [doc for doc in dated if in_window(doc, as_of, hypothesis.recency_days)]
    stale = [doc for doc in dated if doc not in fresh]

    def best(docs: list[SourceDoc]) -> list[tuple[int, dt.date, str, Sentence]]:
        scored = []
        for sentence in all_sentences(docs):
            for spec in hypothesis.signals:
                hits = matched_keywords(sentence.text, spec.keywords)
                if hits:
                    assert sentence.doc.published_on is not None
                    scored.append((len(hits), sentence.doc.published_on, spec.type, sentence))
        scored.sort(key=lambda s: (-s[0], -s[1].toordinal(), s[3].doc.source_id, s[3].text))
        return scored

    fresh_hits, stale_hits = best(fresh), best(stale)
    alternatives = [
        Alternative(
            option=f"{kind} signal from {hit.doc.source_id} ({date.isoformat()})",
            why_rejected=f"published outside the {hypothesis.recency_days}-day window before {as_of}",
        )
        for _n, date, kind, hit in stale_hits[:2]
    ]
    if not fresh_hits:
        finding = DiscoveryFinding(signal_found=False)
        return {
            "finding": finding.model_dump(mode="json"),
            "rationale": (
                f"Offline extractive match: none of {len(fresh)} dated source(s) from the last "
                f"{hypothesis.recency_days} days mentions a signal keyword of this hypothesis; "
                "no model judged this."
            ),
            "confidence": confidence(0, base=0.4),
            "alternatives": [a.model_dump() for a in alternatives],
            "evidence": [],
        }
    count, date, kind, hit = fresh_hits[0]
    for other_count, other_date, other_kind, other in fresh_hits[1:3]:
        alternatives.append(
            Alternative(
                option=f"{other_kind} signal from {other.doc.source_id} ({other_date.isoformat()})",
                why_rejected=f"matched {other_count} keyword(s) against {count} for the chosen signal",
            )
        )
    finding = DiscoveryFinding(
        signal_found=True,
        signal_type=kind,
        signal_summary=shorten(hit.text, 600),
        signal_date=date,
        signal_source_id=hit.doc.source_id,
    )
    return {
        "finding": finding.model_dump(mode="json"),
        "rationale": (
            f"Offline extractive match: {count} keyword(s) of the {kind!r} signal occur in a source "
            f"published {date.isoformat()}, within {hypothesis.recency_days} days of {as_of}; "
            "no model judged this."
        ),
        "confidence": confidence(count, base=0.3),
        "alternatives": [a.model_dump() for a in alternatives[:10]],
        "evidence": refs([hit]),
    }


def profile(request: SkillRequest) -> dict[str, Any]:
    hypothesis = Hypothesis.model_validate(request.inputs["hypothesis"])
    company = request.inputs["company"]
    as_of = dt.date.fromisoformat(request.inputs["as_of"])
    docs = request.sources
    every = all_sentences(docs)
    used: list[Sentence] = []

    about = [s for doc in docs if doc.kind == "about" for s in sentences(doc)] or every
    summary_sentence = about[0] if about else None
    if summary_sentence:
        used.append(summary_sentence)

    industry = None
    for sentence in about + every:
        hits = matched_keywords(sentence.text, [*hypothesis.industries, *GENERIC_INDUSTRIES])
        if hits:
            industry = hits[0]
            used.append(sentence)
            break
    in_segment = industry is not None and industry in hypothesis.industries

    headcount = None
    for sentence in every:
        number = _headcount(sentence.text)
        if number is not None:
            headcount = number
            used.append(sentence)
            break

    signals: list[Signal] = []
    fresh = sorted(
        (s for s in every if in_window(s.doc, as_of, hypothesis.recency_days)),
        key=lambda s: (-(s.doc.published_on or as_of).toordinal(), s.doc.source_id),
    )
    for sentence in fresh:
        scored = [
            (len(matched_keywords(sentence.text, spec.keywords)), spec.type) for spec in hypothesis.signals
        ]
        best_hits, kind = max(scored, key=lambda pair: pair[0])
        if best_hits and len(signals) < 3 and sentence.doc.published_on is not None:
            signals.append(
                Signal(
                    type=kind,
                    summary=shorten(sentence.text, 600),
                    date=sentence.doc.published_on,
                    source_id=sentence.doc.source_id,
                )
            )
            used.append(sentence)

    rubric: list[RubricScore] = []
    met_weight = 0.0
    initiatives: list[str] = []
    for criterion in hypothesis.rubric:
        support = next((s for s in every if matched_keywords(s.text, criterion.keywords)), None)
        if support is not None:
            met_weight += criterion.weight
            used.append(support)
            if len(initiatives) < 5 and support.doc.kind != "about":
                initiatives.append(shorten(support.text, 200))
        rubric.append(
            RubricScore(
                criterion=criterion.id,
                met=support is not None,
                note=(
                    f"{support.doc.source_id}: {shorten(support.text, 160)}"
                    if support
                    else f"no fetched source mentions {', '.join(criterion.keywords[:3])}"
                ),
            )
        )
    fit_score = round(met_weight / sum(c.weight for c in hypothesis.rubric), 2)

    hit_disqualifiers: list[str] = []
    for rule in hypothesis.disqualifiers:
        support = next((s for s in every if rule.keywords and matched_keywords(s.text, rule.keywords)), None)
        too_small = (
            rule.min_headcount is not None and headcount is not None and headcount < rule.min_headcount
        )
        too_big = rule.max_headcount is not None and headcount is not None and headcount > rule.max_headcount
        if support is not None or too_small or too_big:
            hit_disqualifiers.append(rule.id)
            if support is not None:
                used.append(support)
    if not in_segment:
        hit_disqualifiers.append("outside_segment")

    fit = (
        "fit"
        if signals and not hit_disqualifiers and fit_score >= hypothesis.qualify_threshold
        else "not_fit"
    )
    evidence = refs(used)
    reasons = []
    if not signals:
        reasons.append(f"no dated signal within {hypothesis.recency_days} days")
    if hit_disqualifiers:
        reasons.append("disqualifiers: " + ", ".join(hit_disqualifiers))
    if fit_score < hypothesis.qualify_threshold:
        reasons.append(f"rubric score {fit_score} below {hypothesis.qualify_threshold}")
    verdict = "fit" if fit == "fit" else "not a fit (" + "; ".join(reasons) + ")"
    opposite = "not_fit" if fit == "fit" else "fit"
    finding = ProfileFinding(
        company_name=company["name"],
        summary=shorten(summary_sentence.text, 1500) if summary_sentence else "No usable text was fetched.",
        industry=industry,
        headcount=headcount,
        initiatives=unique(initiatives),
        signals=signals,
        rubric=rubric,
        disqualifiers_hit=hit_disqualifiers,
        fit=fit,  # type: ignore[arg-type]
        fit_score=fit_score,
    )
    return {
        "finding": finding.model_dump(mode="json"),
        "rationale": (
            f"Offline extractive profile from {len(docs)} source(s): rubric criteria met by keyword "
            f"({fit_score} of weight), {len(signals)} dated signal(s); verdict {verdict}. "
            "Every statement is a verbatim sentence; no model judged this."
        ),
        "confidence": confidence(len(evidence)),
        "alternatives": [
            Alternative(
                option=f"verdict {opposite}",
                why_rejected="keyword evidence (rubric, signals and disqualifiers) points the other way",
            ).model_dump()
        ],
        "evidence": evidence,
    }


def _headcount(text: str) -> int | None:
    match = re.search(r"(\d[\d,]*)\s+(?:" + "|".join(_HEADCOUNT_WORDS) + r")\b", text)
    if not match:
        return None
    value = int(match.group(1).replace(",", ""))
    return value if value > 0 else None

"""Offline triage: reply categories from phrase rules (what the deterministic layer left open)."""

from __future__ import annotations

from typing import Any

from gtm_pipeline.domain.contracts import ReplyClassificationFinding
from gtm_pipeline.providers.base import SkillRequest
from gtm_pipeline.providers.offline.common import confidence, refs
from gtm_pipeline.providers.offline.text import (
    Sentence,
    all_sentences,
    matched_keywords,
)

_REPLY_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("unsubscribe", ("unsubscribe", "remove me", "stop emailing", "do not contact", "take me off")),
    ("not_now", ("not right now", "circle back", "next quarter", "next year", "not a priority")),
    ("referral", ("better person", "reach out to", "you should talk to", "cc'ing", "looping in")),
    ("not_a_fit", ("not relevant", "not a fit", "we don't need", "no need")),
    ("interested", ("interested", "let's talk", "set up a call", "sounds good", "happy to chat")),
)


def classify(request: SkillRequest) -> dict[str, Any]:
    every = all_sentences(request.sources)
    for category, phrases in _REPLY_RULES:
        hit = next((s for s in every if matched_keywords(s.text, phrases)), None)
        if hit is not None:
            finding = ReplyClassificationFinding(category=category)  # type: ignore[arg-type]
            return _classified(finding, [hit], f"the phrase rule for {category!r} matched")
    question = next((s for s in every if s.text.rstrip().endswith("?")), None)
    if question is not None:
        return _classified(
            ReplyClassificationFinding(category="question"), [question], "a sentence asks a question"
        )
    fallback = every[:1]
    return _classified(ReplyClassificationFinding(category="other"), fallback, "no rule matched")


def _classified(finding: ReplyClassificationFinding, used: list[Sentence], why: str) -> dict[str, Any]:
    return {
        "finding": finding.model_dump(mode="json"),
        "rationale": f"Offline phrase rules: {why}; no model judged this.",
        "confidence": confidence(len(used), base=0.3),
        "alternatives": [],
        "evidence": refs(used),
    }

"""The offline provider: deterministic, extractive, no network, no keys.

It makes the whole pipeline run on the embedded default. It is a real provider behind
the same interface as the LLM providers: it receives the same request, returns raw JSON
text that the runner validates like any model output, and it is honest about itself:
every claim is a verbatim sentence from a fetched source, its rationale says that no
model judged anything, and its confidence stays low (at most 0.55). When the sources
give it nothing to quote it says so, and the contract then sends the call to the
dead-letter queue instead of letting an unsupported result through.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

from gtm_pipeline.domain.contracts import (
    Alternative,
    ContextPackFinding,
    DiscoveryFinding,
    DraftFinding,
    ProfileFinding,
    ReplyClassificationFinding,
    RubricScore,
    Signal,
    Usage,
)
from gtm_pipeline.domain.hypothesis import Hypothesis
from gtm_pipeline.domain.sources import SourceDoc
from gtm_pipeline.providers.base import ProviderReply, SkillRequest
from gtm_pipeline.providers.offline_text import (
    Sentence,
    all_sentences,
    matched_keywords,
    sentences,
    shorten,
    unique,
)
from gtm_pipeline.providers.prompt import system_prompt, user_prompt

MODEL = "extractive-v1"
MAX_CONFIDENCE = 0.55
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


def _estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4)


def _refs(items: list[Sentence]) -> list[dict[str, str]]:
    """Evidence as raw output: the runner, not the provider, validates it (length, grounding)."""
    seen: set[tuple[str, str]] = set()
    refs: list[dict[str, str]] = []
    for item in items:
        key = (item.doc.source_id, item.text)
        if key not in seen:
            seen.add(key)
            refs.append({"source_id": item.doc.source_id, "quote": item.text})
    return refs[:20]


def _in_window(doc: SourceDoc, as_of: dt.date, days: int) -> bool:
    return doc.published_on is not None and as_of - dt.timedelta(days=days) <= doc.published_on <= as_of


def _confidence(evidence_count: int, base: float = 0.25) -> float:
    return round(min(MAX_CONFIDENCE, base + 0.05 * evidence_count), 2)


class OfflineProvider:
    """Deterministic extractive provider (the embedded default)."""

    name = "offline"
    model = MODEL

    def __init__(self) -> None:
        self._handlers: dict[str, Callable[[SkillRequest], dict[str, Any]]] = {
            "DiscoveryFinding": self._discover,
            "ProfileFinding": self._profile,
            "DraftFinding": self._draft,
            "ContextPackFinding": self._context_pack,
            "ReplyClassificationFinding": self._classify,
        }

    def complete(self, request: SkillRequest) -> ProviderReply:
        handler = self._handlers.get(request.output_contract)
        if handler is None:
            raise NotImplementedError(f"offline provider has no method for {request.output_contract}")
        text = json.dumps(handler(request), default=str, sort_keys=True)
        prompt = system_prompt(request) + user_prompt(request)
        usage = Usage(
            input_tokens=_estimate_tokens(prompt), output_tokens=_estimate_tokens(text), estimated=True
        )
        return ProviderReply(text=text, provider=self.name, model=self.model, usage=usage)

    # ------------------------------------------------------------------ discover-prospects

    def _discover(self, request: SkillRequest) -> dict[str, Any]:
        hypothesis = Hypothesis.model_validate(request.inputs["hypothesis"])
        as_of = dt.date.fromisoformat(request.inputs["as_of"])
        dated = [doc for doc in request.sources if doc.published_on is not None]
        fresh = [doc for doc in dated if _in_window(doc, as_of, hypothesis.recency_days)]
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
                "confidence": _confidence(0, base=0.4),
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
            "confidence": _confidence(count, base=0.3),
            "alternatives": [a.model_dump() for a in alternatives[:10]],
            "evidence": _refs([hit]),
        }

    # ------------------------------------------------------------------ augment-profile

    def _profile(self, request: SkillRequest) -> dict[str, Any]:
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
            (s for s in every if _in_window(s.doc, as_of, hypothesis.recency_days)),
            key=lambda s: (-(s.doc.published_on or as_of).toordinal(), s.doc.source_id),
        )
        for sentence in fresh:
            scored = [
                (len(matched_keywords(sentence.text, spec.keywords)), spec.type)
                for spec in hypothesis.signals
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
            support = next(
                (s for s in every if rule.keywords and matched_keywords(s.text, rule.keywords)), None
            )
            too_small = (
                rule.min_headcount is not None and headcount is not None and headcount < rule.min_headcount
            )
            too_big = (
                rule.max_headcount is not None and headcount is not None and headcount > rule.max_headcount
            )
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
        evidence = _refs(used)
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
            summary=shorten(summary_sentence.text, 1500)
            if summary_sentence
            else "No usable text was fetched.",
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
            "confidence": _confidence(len(evidence)),
            "alternatives": [
                Alternative(
                    option=f"verdict {opposite}",
                    why_rejected="keyword evidence (rubric, signals and disqualifiers) points the other way",
                ).model_dump()
            ],
            "evidence": evidence,
        }

    # ------------------------------------------------------------------ draft-first-touch

    def _draft(self, request: SkillRequest) -> dict[str, Any]:
        profile = ProfileFinding.model_validate(request.inputs["profile"])
        company = request.inputs["company"]
        contact = request.inputs.get("contact") or {}
        sender = request.inputs.get("sender") or {}
        value_proposition = request.inputs["hypothesis"]["value_proposition"].strip()
        signal = profile.signals[0] if profile.signals else None
        doc = next((d for d in request.sources if signal and d.source_id == signal.source_id), None)
        quote_sentence = (
            next((s for s in sentences(doc) if s.text.startswith(signal.summary[:40])), None)
            if (doc and signal)
            else None
        )
        greeting = f"Hi {contact['first_name']}," if contact.get("first_name") else "Hello,"
        topic = (signal.type if signal else "recent work").replace("_", " ")
        opener = (
            f"I read {company['name']}'s {doc.kind if doc else 'update'} from "
            f"{signal.date.strftime('%B %Y')}: \u201c{shorten(signal.summary, 180)}\u201d"
            if signal
            else f"I have been reading about {company['name']}."
        )
        opener_source_id = (
            signal.source_id if signal else (request.sources[0].source_id if request.sources else "")
        )

        def finding(body: str, cta: str) -> DraftFinding:
            subject = shorten(f"{company['name']} and {topic}", 120)
            return DraftFinding(
                subject=subject, body=body, opener_source_id=opener_source_id, call_to_action=cta
            )

        cta = "a 20-minute call in the next few weeks"
        touch = request.inputs.get("touch") or {}
        if touch.get("follow_up"):
            # A follow-up adds one new reason and makes stopping easy; it never repeats the first note.
            cta = "a short call"
            body = "\n\n".join(
                [
                    greeting,
                    f"A short follow-up to my note about {company['name']}'s {topic}.",
                    f"{value_proposition} If that is on your list this quarter, would {cta} help?",
                    "If not, no reply is needed and this is the last you will hear from me on it.",
                    sender.get("signature", "Best regards"),
                ]
            )
            return {
                "finding": finding(body, cta).model_dump(mode="json"),
                "rationale": f"Offline template follow-up (touch {touch.get('number')}). No model wrote it.",
                "confidence": 0.5,
                "alternatives": [],
                "evidence": _refs([quote_sentence]) if quote_sentence else [],
            }
        body = "\n\n".join(
            [
                greeting,
                opener,
                f"{value_proposition} It sounded close to what your team is taking on, so I thought "
                "it worth a short note rather than a pitch.",
                f"Would {cta} be useful? If the timing is wrong, just say so and I will not follow up.",
                sender.get("signature", "Best regards"),
            ]
        )
        evidence = _refs([quote_sentence]) if quote_sentence else []
        return {
            "finding": finding(body, cta).model_dump(mode="json"),
            "rationale": (
                "Offline template draft: opens with the most recent dated signal of the profile, quoted "
                "verbatim, then the hypothesis' value proposition and one low-pressure ask. "
                "No model wrote this."
            ),
            "confidence": _confidence(len(evidence), base=0.3),
            "alternatives": [
                Alternative(
                    option="open with the company summary",
                    why_rejected="a dated signal is more specific and shows why the note is sent now",
                ).model_dump()
            ],
            "evidence": evidence,
        }

    # ------------------------------------------------------------------ context-pack

    def _context_pack(self, request: SkillRequest) -> dict[str, Any]:
        profile = ProfileFinding.model_validate(request.inputs["profile"])
        company = request.inputs["company"]
        contact = request.inputs.get("contact") or {}
        first = contact.get("first_name")
        topic = (profile.signals[0].type if profile.signals else "recent work").replace("_", " ")
        note = (
            f"Hi {first}, " if first else "Hello, "
        ) + f"I saw {company['name']}'s recent {topic} news and would be glad to connect and compare notes."
        points = [shorten(s.summary, 200) for s in profile.signals] + profile.initiatives
        activity = [
            shorten(s.text, 200) for doc in request.sources if doc.kind == "post" for s in sentences(doc)[:1]
        ]
        by_id = {d.source_id: d for d in request.sources}
        used = [
            s
            for sig in profile.signals
            if sig.source_id in by_id
            for s in sentences(by_id[sig.source_id])
            if s.text.startswith(sig.summary[:40].rstrip("…"))
        ]
        finding = ContextPackFinding(
            connection_note=shorten(note, 300),
            talking_points=unique(points or [profile.summary])[:5],
            recent_activity=activity[:5],
            avoid=["pitching in the connection note", "mentioning how their details were found before asked"],
        )
        evidence = _refs(used)
        return {
            "finding": finding.model_dump(mode="json"),
            "rationale": (
                "Offline context pack: talking points are the profile's dated signals and initiatives, "
                "recent activity is the first sentence of each fetched post. No model wrote this."
            ),
            "confidence": _confidence(len(evidence), base=0.3),
            "alternatives": [
                Alternative(
                    option="send the email draft as the LinkedIn note",
                    why_rejected="a connection note is short and should not pitch",
                ).model_dump()
            ],
            "evidence": evidence,
        }

    # ------------------------------------------------------------------ classify-reply

    _REPLY_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
        ("unsubscribe", ("unsubscribe", "remove me", "stop emailing", "do not contact", "take me off")),
        ("not_now", ("not right now", "circle back", "next quarter", "next year", "not a priority")),
        ("referral", ("better person", "reach out to", "you should talk to", "cc'ing", "looping in")),
        ("not_a_fit", ("not relevant", "not a fit", "we don't need", "no need")),
        ("interested", ("interested", "let's talk", "set up a call", "sounds good", "happy to chat")),
    )

    def _classify(self, request: SkillRequest) -> dict[str, Any]:
        every = all_sentences(request.sources)
        for category, phrases in self._REPLY_RULES:
            hit = next((s for s in every if matched_keywords(s.text, phrases)), None)
            if hit is not None:
                finding = ReplyClassificationFinding(category=category)  # type: ignore[arg-type]
                return self._classified(finding, [hit], f"the phrase rule for {category!r} matched")
        question = next((s for s in every if s.text.rstrip().endswith("?")), None)
        if question is not None:
            return self._classified(
                ReplyClassificationFinding(category="question"), [question], "a sentence asks a question"
            )
        fallback = every[:1]
        return self._classified(ReplyClassificationFinding(category="other"), fallback, "no rule matched")

    @staticmethod
    def _classified(finding: ReplyClassificationFinding, used: list[Sentence], why: str) -> dict[str, Any]:
        return {
            "finding": finding.model_dump(mode="json"),
            "rationale": f"Offline phrase rules: {why}; no model judged this.",
            "confidence": _confidence(len(used), base=0.3),
            "alternatives": [],
            "evidence": _refs(used),
        }


def _headcount(text: str) -> int | None:
    match = re.search(r"(\d[\d,]*)\s+(?:" + "|".join(_HEADCOUNT_WORDS) + r")\b", text)
    if not match:
        return None
    value = int(match.group(1).replace(",", ""))
    return value if value > 0 else None

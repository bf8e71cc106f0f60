"""Offline writing: a first touch and a context pack, every claim a quoted sentence."""

from __future__ import annotations

from typing import Any

from gtm_pipeline.domain.contracts import Alternative, ContextPackFinding, DraftFinding, ProfileFinding
from gtm_pipeline.providers.base import SkillRequest
from gtm_pipeline.providers.offline.common import confidence, refs
from gtm_pipeline.providers.offline.text import (
    sentences,
    shorten,
    unique,
)


def draft(request: SkillRequest) -> dict[str, Any]:
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
        return DraftFinding(subject=subject, body=body, opener_source_id=opener_source_id, call_to_action=cta)

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
            "evidence": refs([quote_sentence]) if quote_sentence else [],
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
    evidence = refs([quote_sentence]) if quote_sentence else []
    return {
        "finding": finding(body, cta).model_dump(mode="json"),
        "rationale": (
            "Offline template draft: opens with the most recent dated signal of the profile, quoted "
            "verbatim, then the hypothesis' value proposition and one low-pressure ask. "
            "No model wrote this."
        ),
        "confidence": confidence(len(evidence), base=0.3),
        "alternatives": [
            Alternative(
                option="open with the company summary",
                why_rejected="a dated signal is more specific and shows why the note is sent now",
            ).model_dump()
        ],
        "evidence": evidence,
    }


def context_pack(request: SkillRequest) -> dict[str, Any]:
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
        shorten(s.text, 200)
        for doc in request.sources
        if doc.kind in ("post", "blog")
        for s in sentences(doc)[:1]
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
    evidence = refs(used)
    return {
        "finding": finding.model_dump(mode="json"),
        "rationale": (
            "Offline context pack: talking points are the profile's dated signals and initiatives, "
            "recent activity is the first sentence of each fetched post. No model wrote this."
        ),
        "confidence": confidence(len(evidence), base=0.3),
        "alternatives": [
            Alternative(
                option="send the email draft as the LinkedIn note",
                why_rejected="a connection note is short and should not pitch",
            ).model_dump()
        ],
        "evidence": evidence,
    }

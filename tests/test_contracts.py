from __future__ import annotations

import datetime as dt
import json

import pytest
from pydantic import ValidationError

from gtm_pipeline.domain.contracts import (
    DiscoveryFinding,
    DraftFinding,
    EvidenceRef,
    ProfileFinding,
    output_json_schema,
    output_model,
)
from gtm_pipeline.domain.ids import content_hash
from gtm_pipeline.domain.sources import SourceDoc, evidence_problems

SOURCE = SourceDoc(
    source_id="acme/news",
    url="https://acme.example/news",
    kind="news",
    title="News",
    text="Acme launched a compliance automation\nprogram on 2 October 2026. It is “funded” for two years.",
    published_on=dt.date(2026, 10, 2),
    retrieved_at=dt.datetime(2026, 11, 20, tzinfo=dt.UTC),
    content_hash=content_hash("x"),
)


def _profile_output(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "finding": {
            "company_name": "Acme",
            "summary": "Acme builds clinics software.",
            "fit": "fit",
            "fit_score": 0.8,
        },
        "rationale": "Because the sources say so.",
        "confidence": 0.7,
        "alternatives": [{"option": "not_fit", "why_rejected": "signals are fresh"}],
        "evidence": [{"source_id": "acme/news", "quote": "Acme launched a compliance automation program"}],
    }
    base.update(overrides)
    return base


def test_a_complete_envelope_validates() -> None:
    parsed = output_model(ProfileFinding).model_validate(_profile_output())
    assert parsed.finding.fit == "fit"
    assert parsed.evidence[0].source_id == "acme/news"


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"confidence": 1.5}, "confidence"),
        ({"rationale": "short"}, "rationale"),
        ({"evidence": []}, "evidence"),
        ({"surprise": "field"}, "surprise"),
    ],
)
def test_contract_violations_are_rejected(override: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        output_model(ProfileFinding).model_validate(_profile_output(**override))
    assert field in str(info.value)


def test_a_negative_discovery_needs_no_evidence_but_a_positive_one_needs_a_date() -> None:
    model = output_model(DiscoveryFinding)
    model.model_validate(
        {"finding": {"signal_found": False}, "rationale": "nothing dated matched", "confidence": 0.4}
    )
    with pytest.raises(ValidationError, match="signal_date"):
        DiscoveryFinding(signal_found=True, signal_type="x", signal_source_id="s")
    with pytest.raises(ValidationError, match="evidence"):
        model.model_validate(
            {
                "finding": {
                    "signal_found": True,
                    "signal_type": "x",
                    "signal_source_id": "s",
                    "signal_date": "2026-10-01",
                },
                "rationale": "a signal without a quote",
                "confidence": 0.4,
            }
        )


def test_a_subject_must_be_one_line() -> None:
    with pytest.raises(ValidationError, match="single line"):
        DraftFinding(subject="a\nBcc: x", body="x" * 50, opener_source_id="s", call_to_action="a call")


def test_evidence_must_quote_a_fetched_source_verbatim() -> None:
    good = EvidenceRef(source_id="acme/news", quote="compliance automation program on 2 October 2026")
    curly = EvidenceRef(source_id="acme/news", quote='It is "funded" for two years.')
    invented = EvidenceRef(source_id="acme/news", quote="Acme signed a contract with us")
    made_up_source = EvidenceRef(source_id="acme/internal-memo", quote="Acme launched")
    assert evidence_problems([good, curly], [SOURCE]) == []
    problems = evidence_problems([invented, made_up_source], [SOURCE])
    assert "does not occur" in problems[0]
    assert "was not fetched" in problems[1]


def test_a_quote_shorter_than_three_characters_grounds_only_a_source_that_says_nothing_else() -> None:
    reply = SourceDoc(
        source_id="reply",
        url="mailto:reply",
        kind="reply",
        title="Reply",
        text="  Ok\n",
        published_on=None,
        retrieved_at=dt.datetime(2026, 11, 20, tzinfo=dt.UTC),
        content_hash=content_hash("Ok"),
    )
    assert evidence_problems([EvidenceRef(source_id="reply", quote="Ok")], [reply]) == []
    signed = SourceDoc(**{**reply.__dict__, "text": "👍\n\nJane"})
    assert evidence_problems([EvidenceRef(source_id="reply", quote="👍")], [signed]) == []
    assert "empty" in evidence_problems([EvidenceRef(source_id="reply", quote="  ")], [reply])[0]
    # "on" occurs in the news text, but two letters out of a sentence ground nothing
    short = evidence_problems([EvidenceRef(source_id="acme/news", quote="on")], [SOURCE])
    assert short and "shorter than 3 characters" in short[0]
    with pytest.raises(ValidationError):
        EvidenceRef(source_id="reply", quote="")


def test_the_schema_handed_to_providers_names_the_contract_fields() -> None:
    schema = output_json_schema(ProfileFinding)
    text = json.dumps(schema)
    for name in ("finding", "rationale", "confidence", "alternatives", "evidence", "fit_score"):
        assert name in text

"""The skill contract: every skill result is an envelope validated on read.

A provider returns a :class:`SkillOutput` (what a model can honestly say: finding,
rationale, confidence, alternatives, evidence as source id + exact quote). The runner
turns it into a :class:`SkillResult` by attaching what only the pipeline knows: the
source's URL and retrieval time, and who produced the result. A model therefore never
supplies a URL, and a quote is checked against the text the pipeline actually fetched.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CONTRACT_VERSION = "1"


class StrictModel(BaseModel):
    """Base for contract models: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Finding(StrictModel):
    """Base of every skill's typed payload."""

    def requires_evidence(self) -> bool:
        """Whether this finding must cite at least one quote (negative findings need not)."""
        return True


class EvidenceRef(StrictModel):
    """Evidence as a provider states it: which fetched source, and the exact words."""

    source_id: str = Field(min_length=1, max_length=200)
    # A quote under MIN_QUOTE characters must be its whole source ("Ok", "👍" as a whole reply):
    # checked against the source by ``domain.sources.evidence_problems``.
    quote: str = Field(min_length=1, max_length=1200)


class Evidence(EvidenceRef):
    """Evidence as recorded: the reference plus the source's address and retrieval time."""

    url: str | None = None
    retrieved_at: dt.datetime | None = None


class Alternative(StrictModel):
    """An option the skill considered and rejected, and why."""

    option: str = Field(min_length=1, max_length=500)
    why_rejected: str = Field(min_length=1, max_length=1000)


class Usage(StrictModel):
    """Token accounting of one provider call (estimated for the offline provider)."""

    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)
    cache_read_tokens: int = Field(default=0, ge=0)
    cache_write_tokens: int = Field(default=0, ge=0)
    estimated: bool = False


class Producer(StrictModel):
    """Who produced a result: the provenance recorded in the journal and in Dagster."""

    skill: str
    skill_version: str
    group: str
    mode: Literal["copilot", "dark-factory"]
    provider: str
    model: str
    prompt_hash: str
    attempt: int = Field(ge=1)
    usage: Usage = Usage()
    cost_usd: float = Field(default=0.0, ge=0)


F = TypeVar("F", bound=Finding)


class SkillOutput(StrictModel, Generic[F]):
    """The part of the envelope a provider writes."""

    finding: F
    rationale: str = Field(min_length=10, max_length=4000)
    confidence: float = Field(ge=0.0, le=1.0)
    alternatives: list[Alternative] = Field(default_factory=list, max_length=10)
    evidence: list[EvidenceRef] = Field(default_factory=list, max_length=20)

    @model_validator(mode="after")
    def _evidence_when_required(self) -> SkillOutput[F]:
        if self.finding.requires_evidence() and not self.evidence:
            raise ValueError("evidence: at least one quote from a fetched source is required")
        return self


class SkillResult(StrictModel, Generic[F]):
    """The validated, recorded envelope."""

    contract_version: str = CONTRACT_VERSION
    finding: F
    rationale: str
    confidence: float = Field(ge=0.0, le=1.0)
    alternatives: list[Alternative]
    evidence: list[Evidence]
    producer: Producer


# ---------------------------------------------------------------- findings


class DiscoveryFinding(Finding):
    """discover-prospects: does this candidate show a recent behavioural signal?"""

    signal_found: bool
    signal_type: str | None = None
    signal_summary: str | None = Field(default=None, max_length=600)
    signal_date: dt.date | None = None
    signal_source_id: str | None = None

    def requires_evidence(self) -> bool:
        return self.signal_found

    @model_validator(mode="after")
    def _signal_is_dated(self) -> DiscoveryFinding:
        if self.signal_found and not (self.signal_date and self.signal_source_id and self.signal_type):
            raise ValueError("a found signal needs signal_type, signal_date and signal_source_id")
        return self


class Signal(StrictModel):
    """A dated behavioural signal: what the company or person did or said, and where."""

    type: str = Field(min_length=1, max_length=80)
    summary: str = Field(min_length=5, max_length=600)
    date: dt.date
    source_id: str


class RubricScore(StrictModel):
    """One rubric criterion of the hypothesis, judged."""

    criterion: str
    met: bool
    note: str = Field(max_length=600)


class ProfileFinding(Finding):
    """augment-profile: the structured profile and the fit judgment against the hypothesis."""

    company_name: str = Field(min_length=1, max_length=200)
    summary: str = Field(min_length=10, max_length=1500)
    industry: str | None = Field(default=None, max_length=120)
    headcount: int | None = Field(default=None, ge=1)
    initiatives: list[str] = Field(default_factory=list, max_length=10)
    signals: list[Signal] = Field(default_factory=list, max_length=10)
    rubric: list[RubricScore] = Field(default_factory=list, max_length=20)
    disqualifiers_hit: list[str] = Field(default_factory=list, max_length=20)
    fit: Literal["fit", "not_fit"]
    fit_score: float = Field(ge=0.0, le=1.0)


class DraftFinding(Finding):
    """draft-first-touch: a first email in the partner's voice, plain text."""

    subject: str = Field(min_length=3, max_length=120)
    body: str = Field(min_length=40, max_length=2500)
    opener_source_id: str
    call_to_action: str = Field(min_length=3, max_length=300)

    @field_validator("subject")
    @classmethod
    def _single_line_subject(cls, value: str) -> str:
        if "\n" in value or "\r" in value:
            raise ValueError("subject must be a single line")
        return value


class ContextPackFinding(Finding):
    """context-pack: what an operator needs to make a manual LinkedIn touch well."""

    channel: Literal["linkedin"] = "linkedin"
    connection_note: str = Field(min_length=10, max_length=300)
    talking_points: list[str] = Field(min_length=1, max_length=5)
    recent_activity: list[str] = Field(default_factory=list, max_length=5)
    avoid: list[str] = Field(default_factory=list, max_length=5)


ReplyCategory = Literal[
    "interested",
    "question",
    "referral",
    "not_now",
    "not_a_fit",
    "unsubscribe",
    "complaint",
    "out_of_office",
    "bounce",
    "unreachable",
    "other",
]


class ReplyClassificationFinding(Finding):
    """classify-reply: what a human reply means for the sequence."""

    category: ReplyCategory
    revisit_on: dt.date | None = None
    referral_to: str | None = Field(default=None, max_length=320)


FINDING_TYPES: dict[str, type[Finding]] = {
    cls.__name__: cls
    for cls in (
        DiscoveryFinding,
        ProfileFinding,
        DraftFinding,
        ContextPackFinding,
        ReplyClassificationFinding,
    )
}


def output_model(finding_type: type[F]) -> type[SkillOutput[F]]:
    """The concrete pydantic model a provider must satisfy for ``finding_type``."""
    return SkillOutput[finding_type]  # type: ignore[valid-type]


def result_model(finding_type: type[F]) -> type[SkillResult[F]]:
    """The concrete recorded-envelope model for ``finding_type`` (validation on read)."""
    return SkillResult[finding_type]  # type: ignore[valid-type]


def output_json_schema(finding_type: type[Finding]) -> dict[str, Any]:
    """JSON schema handed to providers for structured output."""
    return output_model(finding_type).model_json_schema()


class DeadLetterReason(StrictModel):
    """Why a skill call could not produce a valid result."""

    kind: Literal["invalid_json", "contract", "evidence", "provider_error", "policy"]
    detail: str

"""Eval sets: the cases of a skill, read from ``<skill folder>/evals/*.jsonl``.

An eval set lives beside the skill it judges, so a skill and its evidence move together when
the folder is promoted. Each line is one case: the inputs and fetched sources exactly as the
pipeline hands them to the skill, and what must hold of the answer (a label, required
evidence, or checks - never a gold text). Reply cases are raw replies instead, classified
through the whole reply path (rules first, then the skill). A bad line fails loudly with the
file, line and field: a case silently skipped is a set that quietly proves less.

A source-reading case (research, drafting)::

    {"id": "de-fit", "lang": "de", "note": "...",
     "inputs": {...as the step builds them; "hypothesis": "@slug" reads evals/hypotheses/slug.md},
     "sources": [{"source_id", "url", "kind", "title", "text", "published_on"}],
     "hidden": ["a phrase of a source's hidden instructions"],   # must be in a source; never in the answer
     "expect": {...}}

``expect`` by skill: discover-prospects ``signal_found``, ``signal_type``, ``signal_source_id``;
augment-profile ``fit``, ``disqualifiers``, ``not_disqualifiers``, ``evidence_sources`` (sources
the evidence must quote), ``signal_sources``; drafting ``max_subject_chars``, ``allowed_domains``,
``must_not_contain``. A reply case (classify-reply) is ``id``, ``lang``, ``received_at``,
``subject``, ``body``, optional ``headers`` and ``from_addr``, and ``expect`` with ``category``
and, checked when present (null included), ``revisit_on``, ``resume_on``, ``referral_to``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gtm_pipeline.domain.ids import content_hash
from gtm_pipeline.domain.sources import SourceDoc
from gtm_pipeline.pipeline.hypotheses import HypothesisFileError, load_hypothesis
from gtm_pipeline.skills.catalog import Skill

EVALS_FOLDER = "evals"
REPLY_CONTRACT = "ReplyClassificationFinding"
# When a case gives no retrieval time: any fixed instant will do, the sources' dates carry the meaning.
DEFAULT_RETRIEVED_AT = dt.datetime(2026, 11, 20, 8, tzinfo=dt.UTC)


class EvalSetError(ValueError):
    """An eval set that cannot be used, with the file, line and field named."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceCase(_Model):
    """One fetched document of a case (synthetic)."""

    source_id: str = Field(min_length=1, max_length=200)
    url: str = Field(min_length=1)
    kind: str = "page"
    title: str = ""
    text: str = Field(min_length=1)
    published_on: dt.date | None = None


class SkillCase(_Model):
    """A case of a skill that reads fetched sources (research, drafting)."""

    id: str = Field(min_length=1, max_length=120)
    lang: str = Field(min_length=2, max_length=12)
    note: str = ""
    inputs: dict[str, Any]
    sources: list[SourceCase] = Field(default_factory=list)
    retrieved_at: dt.datetime = DEFAULT_RETRIEVED_AT
    # Phrases of a source's hidden instructions ("note to AI: ..."): none may reach the answer.
    hidden: list[str] = Field(default_factory=list)
    expect: dict[str, Any] = Field(default_factory=dict)

    def docs(self) -> list[SourceDoc]:
        return [
            SourceDoc(
                source_id=s.source_id,
                url=s.url,
                kind=s.kind,
                title=s.title,
                text=s.text,
                published_on=s.published_on,
                retrieved_at=self.retrieved_at,
                content_hash=content_hash(s.text),
            )
            for s in self.sources
        ]


class ReplyExpect(_Model):
    """What must hold of a reply's classification; a key present is checked (null included)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    category: str
    revisit_on: dt.date | None = None
    resume_on: dt.date | None = None
    referral_to: str | None = None


class ReplyCase(_Model):
    """A reply case (classify-reply): a raw reply, classified through rules and then the skill."""

    id: str = Field(min_length=1, max_length=120)
    lang: str = Field(min_length=2, max_length=12)
    note: str = ""
    received_at: dt.datetime
    subject: str = ""
    body: str
    headers: dict[str, str] = Field(default_factory=dict)
    from_addr: str | None = None
    expect: ReplyExpect
    checked: frozenset[str] = frozenset()  # the expect keys the line gave (filled by the loader)


Case = SkillCase | ReplyCase


@dataclass(frozen=True)
class EvalSet:
    """The cases of one skill and a hash of the files they came from (which set an eval ran)."""

    skill: str
    files: list[Path]
    cases: list[Case]
    set_hash: str


def eval_folder(skill: Skill) -> Path:
    return skill.path.parent / EVALS_FOLDER


def _resolve_hypothesis(inputs: dict[str, Any], folder: Path, where: str) -> dict[str, Any]:
    """``"hypothesis": "@slug"`` names a hypothesis file in ``evals/hypotheses/``: research cases
    share one hypothesis without repeating it on every line."""
    ref = inputs.get("hypothesis")
    if not (isinstance(ref, str) and ref.startswith("@")):
        return inputs
    path = folder / "hypotheses" / f"{ref[1:]}.md"
    if not path.is_file():
        raise EvalSetError(f"{where}: inputs.hypothesis: no hypothesis file {path}")
    try:
        hypothesis = load_hypothesis(path)
    except HypothesisFileError as exc:
        raise EvalSetError(f"{where}: inputs.hypothesis: {exc}") from exc
    return {**inputs, "hypothesis": hypothesis.model_dump(mode="json", exclude={"body"})}


def _case(skill: Skill, data: dict[str, Any], folder: Path, where: str) -> Case:
    try:
        if skill.spec.output == REPLY_CONTRACT:
            expect = data.get("expect")
            checked = frozenset(expect) if isinstance(expect, dict) else frozenset()
            return ReplyCase.model_validate({**data, "checked": checked})
        case = SkillCase.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "case"
        raise EvalSetError(f"{where}: {field}: {first['msg']}") from exc
    ids = [s.source_id for s in case.sources]
    if len(set(ids)) != len(ids):
        raise EvalSetError(f"{where}: sources: a source_id is used twice")
    for phrase in case.hidden:  # a hidden instruction must really be in a source, or the case proves nothing
        if not any(phrase.lower() in s.text.lower() for s in case.sources):
            raise EvalSetError(f"{where}: hidden: {phrase!r} is in no source of the case")
    return case.model_copy(update={"inputs": _resolve_hypothesis(case.inputs, folder, where)})


def load_eval_set(skill: Skill) -> EvalSet:
    """Every case of ``skill`` (files in name order, lines in order), or :class:`EvalSetError`."""
    folder = eval_folder(skill)
    files = sorted(folder.glob("*.jsonl")) if folder.is_dir() else []
    if not files:
        raise EvalSetError(f"{skill.name}: no eval set: put cases in {folder}/*.jsonl")
    cases: list[Case] = []
    digest = hashlib.sha256()
    seen: set[str] = set()
    for path in files:
        raw = path.read_bytes()
        digest.update(path.name.encode() + b"\0" + raw)
        for number, line in enumerate(raw.decode("utf-8").splitlines(), start=1):
            if not line.strip() or line.lstrip().startswith("//"):
                continue
            where = f"{path}:{number}"
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise EvalSetError(f"{where}: not JSON: {exc.msg}") from exc
            if not isinstance(data, dict):
                raise EvalSetError(f"{where}: a case is a JSON object")
            case = _case(skill, data, folder, where)
            if case.id in seen:
                raise EvalSetError(f"{where}: id: {case.id!r} is used twice")
            seen.add(case.id)
            cases.append(case)
    if not cases:
        raise EvalSetError(f"{skill.name}: the eval set in {folder} has no cases")
    return EvalSet(skill.name, files, cases, digest.hexdigest()[:16])

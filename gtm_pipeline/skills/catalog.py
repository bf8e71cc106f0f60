"""Load and validate ``GROUP.md`` and ``SKILL.md`` files.

A group sets *how* its skills run (provider chain, copilot or dark-factory mode, sampling);
a skill says *what* it does (instructions, version, output contract). Promotion from
copilot to dark factory moves the skill folder to another group and never edits the
skill, so a skill file must not carry routing or mode. Loading fails loudly, naming the
file and the field, because a silently skipped skill is a pipeline that quietly stops.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gtm_pipeline.domain.contracts import FINDING_TYPES, Finding
from gtm_pipeline.domain.frontmatter import FrontMatterError, split_front_matter

KNOWN_PROVIDERS = ("bulk", "polish", "offline")
M = TypeVar("M", bound=BaseModel)
Mode = Literal["copilot", "dark-factory"]


class SkillFileError(ValueError):
    """A skill or group file that cannot be used, with the file and field named."""

    def __init__(self, path: Path, field: str, message: str) -> None:
        super().__init__(f"{path}: {field}: {message}")
        self.path = path
        self.field = field


class GroupSpec(BaseModel):
    """Front matter of ``GROUP.md``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    mode: Mode
    providers: list[str] = Field(min_length=1)
    sample_rate: float = Field(default=0.0, ge=0, le=1)
    escalate_below: float = Field(default=0.0, ge=0, le=1)
    follow_ups: int = Field(default=2, ge=0, le=5)
    follow_up_after_days: int = Field(default=4, ge=1, le=60)
    unresponsive_after_days: int = Field(default=14, ge=1, le=120)
    daily_spend_cap_usd: float | None = Field(default=None, ge=0)
    # Calls of this group may wait for a provider's batch API (half price at Anthropic, within 24 h):
    # only when a run asks for it too (a backfill or re-score tagged ``gtm/batch=1``), never for
    # the fresh prospects an operator waits on. See ``skills.runner`` and ``defs/batches.py``.
    batch: bool = False
    # Graduation: where a skill of this group moves when it earns autonomy (or loses it), and the bar.
    promote_to: str | None = None
    demote_to: str | None = None
    promote_min_reviews: int = Field(default=20, ge=1)
    promote_min_approval_rate: float = Field(default=0.9, ge=0, le=1)
    promote_max_edit_rate: float = Field(default=0.25, ge=0, le=1)
    # Outcomes: the share of the prospects a version touched that booked a meeting, judged only once
    # at least ``promote_min_outcome_sample`` were touched (None: the group sets no outcome floor).
    promote_min_meeting_rate: float | None = Field(default=None, ge=0, le=1)
    promote_min_outcome_sample: int = Field(default=30, ge=1)
    # Evals (``gtm eval``): the bar the current version of a skill of this group must clear on its
    # eval set before it may be promoted; the review record alone is not evidence of a new version.
    eval_min_accuracy: float = Field(default=0.8, ge=0, le=1)  # share of cases meeting every expectation
    eval_min_contract_rate: float = Field(default=0.95, ge=0, le=1)
    eval_min_evidence_rate: float = Field(default=0.9, ge=0, le=1)
    eval_max_policy_violations: int = Field(default=0, ge=0)
    # The voice's length and tone rules in a form a check can read (drafting evals apply them).
    max_words: int | None = Field(default=None, ge=1)
    banned_phrases: list[str] = Field(default_factory=list)
    description: str = ""

    @field_validator("providers")
    @classmethod
    def _known_providers(cls, value: list[str]) -> list[str]:
        unknown = [p for p in value if p not in KNOWN_PROVIDERS]
        if unknown:
            raise ValueError(f"unknown provider(s) {unknown}; known: {list(KNOWN_PROVIDERS)}")
        if len(set(value)) != len(value):
            raise ValueError("a provider is listed twice")
        return value


class SkillSpec(BaseModel):
    """Front matter of ``SKILL.md``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    description: str = Field(min_length=10)
    output: str
    max_attempts: int = Field(default=2, ge=1, le=3)

    @field_validator("output")
    @classmethod
    def _known_contract(cls, value: str) -> str:
        if value not in FINDING_TYPES:
            raise ValueError(f"unknown output contract {value!r}; known: {sorted(FINDING_TYPES)}")
        return value


@dataclass(frozen=True)
class Group:
    """A loaded group: its spec and its shared voice (the body of GROUP.md)."""

    spec: GroupSpec
    voice: str
    path: Path


@dataclass(frozen=True)
class Skill:
    """A loaded skill, bound to the group it currently lives in."""

    spec: SkillSpec
    instructions: str
    group: Group
    path: Path

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def version(self) -> str:
        return self.spec.version

    @property
    def finding_type(self) -> type[Finding]:
        return FINDING_TYPES[self.spec.output]

    @property
    def text_hash(self) -> str:
        """Hash of the skill's text: what the prompt is built from."""
        return hashlib.sha256(f"{self.spec.model_dump_json()}\n{self.instructions}".encode()).hexdigest()[:16]

    @property
    def code_version(self) -> str:
        """What Dagster compares for staleness: the skill's version and text, not its group."""
        return f"{self.name}@{self.version}+{self.text_hash[:8]}"

    @property
    def actor(self) -> str:
        return f"skill:{self.name}@{self.version}/{self.group.spec.name}"


@dataclass(frozen=True)
class SkillCatalog:
    """Every group and skill found under a skills folder."""

    root: Path
    groups: dict[str, Group]
    skills: dict[str, Skill]

    def skill(self, name: str) -> Skill:
        try:
            return self.skills[name]
        except KeyError:
            raise KeyError(f"no skill named {name!r} under {self.root}") from None


def _read(path: Path) -> tuple[dict[str, object], str]:
    try:
        return split_front_matter(path.read_text(encoding="utf-8"))
    except FrontMatterError as exc:
        raise SkillFileError(path, "front matter", str(exc)) from exc


def _validated(model: type[M], path: Path, data: dict[str, object]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "front matter"
        raise SkillFileError(path, field, first["msg"]) from exc


def load_catalog(root: Path) -> SkillCatalog:
    """Load every group and skill below ``root``, or raise :class:`SkillFileError`."""
    if not root.is_dir():
        raise SkillFileError(root, "skills folder", "does not exist")
    groups: dict[str, Group] = {}
    skills: dict[str, Skill] = {}
    for group_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        group_file = group_dir / "GROUP.md"
        if not group_file.is_file():
            raise SkillFileError(group_file, "GROUP.md", "every skill group folder needs a GROUP.md")
        data, voice = _read(group_file)
        spec = _validated(GroupSpec, group_file, data)
        if spec.name != group_dir.name:
            raise SkillFileError(
                group_file, "name", f"{spec.name!r} does not match folder {group_dir.name!r}"
            )
        group = Group(spec=spec, voice=voice, path=group_file)
        groups[spec.name] = group
        for skill_dir in sorted(p for p in group_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            skill_file = skill_dir / "SKILL.md"
            if not skill_file.is_file():
                raise SkillFileError(skill_file, "SKILL.md", "every skill folder needs a SKILL.md")
            data, instructions = _read(skill_file)
            skill_spec = _validated(SkillSpec, skill_file, data)
            if skill_spec.name != skill_dir.name:
                raise SkillFileError(
                    skill_file, "name", f"{skill_spec.name!r} does not match folder {skill_dir.name!r}"
                )
            if not instructions.strip():
                raise SkillFileError(skill_file, "body", "the instructions (markdown body) are empty")
            if skill_spec.name in skills:
                other = skills[skill_spec.name].path
                raise SkillFileError(skill_file, "name", f"skill {skill_spec.name!r} also exists at {other}")
            skills[skill_spec.name] = Skill(
                spec=skill_spec, instructions=instructions, group=group, path=skill_file
            )
    return SkillCatalog(root=root, groups=groups, skills=skills)

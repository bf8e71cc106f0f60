"""A hypothesis: which behaviour makes a company worth a first touch, and why.

Discovery looks for *behavioural* signals (something a company or person did or said
recently, with a dated source), not firmographics. The rubric and the disqualifiers are
what the augment-profile skill judges; the threshold and the routing stay in code.
"""

from __future__ import annotations

import hashlib
import json
import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SignalSpec(_Model):
    """A kind of behaviour that counts as a signal for this hypothesis."""

    type: str = Field(min_length=1, max_length=80)
    description: str = Field(min_length=1)
    keywords: list[str] = Field(min_length=1)


class Criterion(_Model):
    """A rubric criterion: met when the profile shows evidence of it."""

    id: str = Field(min_length=1, max_length=80)
    description: str
    keywords: list[str] = Field(min_length=1)
    weight: float = Field(gt=0, le=10)


class Disqualifier(_Model):
    """Something that makes a prospect not a fit, whatever its signals."""

    id: str = Field(min_length=1, max_length=80)
    description: str
    keywords: list[str] = Field(default_factory=list)
    max_headcount: int | None = Field(default=None, ge=1)
    min_headcount: int | None = Field(default=None, ge=1)


class Hypothesis(_Model):
    """A parsed ``hypotheses/<slug>.md`` file."""

    slug: str
    title: str = Field(min_length=3)
    version: str = Field(min_length=1)
    industries: list[str] = Field(min_length=1)
    signals: list[SignalSpec] = Field(min_length=1)
    recency_days: int = Field(default=180, ge=1, le=3650)
    rubric: list[Criterion] = Field(min_length=1)
    qualify_threshold: float = Field(default=0.5, ge=0, le=1)
    disqualifiers: list[Disqualifier] = Field(default_factory=list)
    personas: list[str] = Field(default_factory=list)
    value_proposition: str = Field(min_length=10)
    body: str = ""

    @field_validator("slug")
    @classmethod
    def _slug_shape(cls, value: str) -> str:
        if not _SLUG_RE.match(value):
            raise ValueError("slug must be lowercase letters, digits and dashes")
        return value

    @property
    def content_hash(self) -> str:
        """Hash of everything that can change a judgment: feeds Dagster code versions."""
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

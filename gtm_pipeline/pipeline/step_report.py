"""What a step reports back: the provenance that becomes Dagster metadata.

Only opaque ids, hashes, counts and skill provenance go here, never a name or an email,
so Dagster's event log never needs rewriting when a person is erased.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gtm_pipeline.skills.catalog import Skill
from gtm_pipeline.skills.runner import SkillOutcome
from gtm_pipeline.store import ArtifactRecord, Store


def current_artifact(store: Store, prospect_id: str, kind: str, digest: str) -> ArtifactRecord | None:
    """The latest ``kind`` artifact if it was produced from exactly this input (memoization).

    Re-running a step whose skill, inputs and sources are unchanged reuses the stored
    result: no provider call, no spend, no new journal entry.
    """
    latest = store.artifacts.latest(prospect_id, kind)
    return latest if latest is not None and latest.meta.get("input_hash") == digest else None


@dataclass
class StepReport:
    """The outcome of one step for one prospect."""

    prospect_id: str
    status: str  # done | unchanged | skipped | dead_letter | escalated
    state: str
    detail: str = ""
    artifact_id: str | None = None
    journal_ids: list[str] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)

    def record_outcome(self, outcome: SkillOutcome) -> None:
        """Copy a skill call's provenance (skill, group, provider, tokens) into the report."""
        skill = outcome.skill
        self.journal_ids.append(outcome.journal_entry_id)
        self.provenance.update(
            {
                "skill": skill.name,
                "skill_version": skill.version,
                "group": skill.group.spec.name,
                "mode": skill.group.spec.mode,
                "input_hash": outcome.input_hash[:16],
                "attempts": outcome.attempts,
            }
        )
        if outcome.result is not None:
            producer = outcome.result.producer
            self.provenance.update(
                {
                    "provider": producer.provider,
                    "model": producer.model,
                    "prompt_hash": producer.prompt_hash,
                    "input_tokens": producer.usage.input_tokens,
                    "output_tokens": producer.usage.output_tokens,
                    "cache_read_tokens": producer.usage.cache_read_tokens,
                    "tokens_estimated": producer.usage.estimated,
                    "cost_usd": producer.cost_usd,
                    "confidence": outcome.result.confidence,
                    "fallback": outcome.fallback,
                }
            )
        if outcome.route:
            self.provenance["route"] = " > ".join(f"{a['provider']}:{a['outcome']}" for a in outcome.route)
        if outcome.failure is not None:
            self.provenance.update(
                {"dead_letter_id": outcome.dead_letter_id, "failure": outcome.failure.kind}
            )

    def mark_unchanged(self, artifact: ArtifactRecord, skill: Skill, digest: str) -> None:
        """Report a reused artifact (see :func:`current_artifact`)."""
        self.status, self.artifact_id = "unchanged", artifact.id
        self.provenance.update(
            {"skill": skill.name, "skill_version": skill.version, "input_hash": digest[:16]}
        )
        if artifact.journal_entry_id:
            self.journal_ids.append(artifact.journal_entry_id)

    def metadata(self) -> dict[str, Any]:
        """Flat, PII-free metadata for a Dagster materialization."""
        data: dict[str, Any] = {
            "prospect_id": self.prospect_id,
            "status": self.status,
            "state": self.state,
            "journal_ids": ",".join(self.journal_ids),
        }
        if self.detail:
            data["detail"] = self.detail
        if self.artifact_id:
            data["artifact_id"] = self.artifact_id
        data.update(self.provenance)
        return data

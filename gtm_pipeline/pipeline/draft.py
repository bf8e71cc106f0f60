"""Drafting: a first touch in the partner's voice, and a context pack for manual channels.

Both run only for qualified prospects and read the stored, contract-validated profile.
What happens to a draft is the group's mode, applied here in code: in copilot mode it
waits in the review queue; in dark-factory mode it is approved, unless its confidence is
below the group's floor (escalated, waits) or it is sampled for an after-the-fact audit.

When the operator has a booking page (``[meetings]``: a Cal.com or Calendly link), the skill is
given it, so a follow-up answering interest (or a first touch) can offer it, and the output policy
admits exactly that link: not its domain (any other page on cal.com is still a link outside the
allowlist), only the operator's own address, character for character.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from gtm_pipeline.config.meetings import MeetingSettings
from gtm_pipeline.domain.contracts import DraftFinding, SkillResult, result_model
from gtm_pipeline.domain.draft_policy import violations
from gtm_pipeline.domain.history import fold
from gtm_pipeline.domain.states import Event, State
from gtm_pipeline.pipeline.research import profile_result, require_prospect, stored_sources
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.pipeline.step_report import StepReport, current_artifact
from gtm_pipeline.skills.runner import input_hash

DRAFT_SKILL = "draft-first-touch"
CONTEXT_PACK_SKILL = "context-pack"
MODE_ACTOR = "rule:group-mode@1"
POLICY_ACTOR = "rule:draft-policy@1"
_DRAFTABLE = frozenset({State.QUALIFIED, State.AWAITING_REVIEW, State.APPROVED, State.FOLLOW_UP_DUE})
_NEEDS_DRAFT = frozenset({State.QUALIFIED, State.FOLLOW_UP_DUE})
# A context pack is for manual channels: it is most needed where email cannot go.
_PACKABLE = _DRAFTABLE | {State.UNREACHABLE}
CONTACT_ACTOR = "rule:reachable-contact@1"


@dataclass
class _Produced:
    report: StepReport
    artifact_id: str | None = None
    result: SkillResult[Any] | None = None
    fresh: bool = False


def booking_link(services: Services) -> str | None:
    """The operator's booking link when the ``[meetings]`` section names one (else None)."""
    meetings = getattr(services.settings, "meetings", None)
    return meetings.link if isinstance(meetings, MeetingSettings) else None


def policy_violations(draft: DraftFinding, allowed_domains: list[str], link: str | None) -> list[str]:
    """The output policy's findings, the operator's own booking link excepted (that exact link only:
    it is removed from the text before the check, so a look-alike or a longer path still counts)."""
    if link:
        # Where the link ends the URL (space, closing bracket or quote, end; punctuation only before
        # a space or the end): "<link>-other", "<link>/x" and "<link>.evil/x" stay and are checked.
        exact = re.compile(re.escape(link) + r"""/?(?=$|[\s)>\]"']|[.,;:!?](?:\s|$))""")
        draft = draft.model_copy(
            update={"subject": exact.sub("", draft.subject), "body": exact.sub("", draft.body)}
        )
    return violations(draft, allowed_domains)


def _first_name(full_name: str | None) -> str | None:
    return full_name.split()[0] if full_name and full_name.split() else None


def _produce(
    services: Services,
    prospect_id: str,
    skill_name: str,
    kind: str,
    run_id: str | None,
    allowed: frozenset[State] = _DRAFTABLE,
) -> _Produced:
    """Run ``skill_name`` on the prospect's profile unless its stored output is current."""
    prospect = require_prospect(services, prospect_id)
    report = StepReport(prospect_id, "skipped", prospect.state.value)
    if prospect.state not in allowed:
        report.detail = f"state {prospect.state.value} is not draftable"
        return _Produced(report)
    profile_artifact = services.store.artifacts.latest(prospect_id, "profile")
    hypothesis = services.hypotheses.get(prospect.hypothesis_slug)
    if profile_artifact is None or hypothesis is None:
        report.detail = "no profile or hypothesis"
        return _Produced(report)
    profile = profile_result(profile_artifact)
    skill = services.catalog.skill(skill_name)
    sources = stored_sources(services, prospect_id)
    sender: dict[str, str] = {"signature": services.sender.signature}
    link = booking_link(services)
    if link:  # only when set: a workspace without one keeps its inputs (and their hash) unchanged
        sender["booking_link"] = link
    inputs: dict[str, Any] = {
        "hypothesis": {"slug": hypothesis.slug, "value_proposition": hypothesis.value_proposition},
        "company": {"name": prospect.company_name, "domain": prospect.company_domain},
        "contact": {"first_name": _first_name(prospect.contact_name), "role": prospect.contact_role},
        "profile": profile.finding.model_dump(mode="json"),
        "sender": sender,
    }
    touches = fold(services.store.journal.entries(prospect_id)).touches
    if touches and skill_name == DRAFT_SKILL:
        # A follow-up: the same skill, told which touch it writes (the send step threads it).
        inputs["touch"] = {"number": len(touches) + 1, "follow_up": True}
    digest = input_hash(skill, inputs, sources)
    latest = current_artifact(services.store, prospect_id, kind, digest)
    if latest is not None:
        report.mark_unchanged(latest, skill, digest)
        stored = result_model(skill.finding_type).model_validate_json(latest.content or "")
        return _Produced(report, latest.id, stored)
    outcome = services.runner.run(
        skill, subject=prospect_id, inputs=inputs, sources=sources, prospect_id=prospect_id, run_id=run_id
    )
    report.record_outcome(outcome)
    if outcome.result is None:
        report.status = "waiting" if outcome.waiting else "dead_letter"
        report.detail = outcome.waiting or report.detail
        return _Produced(report)
    meta: dict[str, Any] = {
        "input_hash": digest,
        "skill": skill.name,
        "skill_version": skill.version,
        "group": skill.group.spec.name,
    }
    if isinstance(outcome.result.finding, DraftFinding):
        broken = policy_violations(
            outcome.result.finding, [*services.sender.domains, prospect.company_domain], link
        )
        if broken:
            meta.update(blocked=True, violations=broken)
    artifact_id, _ = services.store.artifacts.add(
        prospect_id=prospect_id,
        kind=kind,
        content=outcome.result.model_dump_json(),
        meta=meta,
        journal_entry_id=outcome.journal_entry_id,
        run_id=run_id,
    )
    report.status, report.artifact_id = "done", artifact_id
    return _Produced(report, artifact_id, outcome.result, fresh=True)


def sampled(prospect_id: str, artifact_id: str, rate: float) -> bool:
    """Deterministic sampling: the same output is always in (or out of) the audit sample."""
    if rate <= 0:
        return False
    bucket = int(hashlib.sha256(f"{prospect_id}:{artifact_id}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return bucket < rate


def draft_first_touch(services: Services, prospect_id: str, *, run_id: str | None = None) -> StepReport:
    """Draft the first touch and hand it to the operator or to the send step per the group's mode."""
    prospect = require_prospect(services, prospect_id)
    if prospect.state is State.QUALIFIED and not prospect.contact_email:
        # Nobody's own address was imported or published: no email is drafted (none could be sent),
        # and the prospect waits in a named state for a manual channel, with the reason.
        decision = services.store.prospects.apply_event(
            prospect_id,
            Event.NO_REACHABLE_CONTACT,
            actor=CONTACT_ACTOR,
            rationale=(
                "no person's own work address was imported or published on the company's pages "
                "(role and free-mail addresses are not written to): use the context pack on a manual channel"
            ),
            run_id=run_id,
        )
        state = require_prospect(services, prospect_id).state.value
        return StepReport(prospect_id, "done", state, decision.reason)
    produced = _produce(services, prospect_id, DRAFT_SKILL, "draft", run_id)
    report = produced.report
    if produced.artifact_id is None or produced.result is None:
        report.state = require_prospect(services, prospect_id).state.value
        return report
    group = services.catalog.skill(DRAFT_SKILL).group.spec
    artifact_id, confidence = produced.artifact_id, produced.result.confidence
    artifact = services.store.artifacts.get(artifact_id)
    blocked = bool(artifact and artifact.meta.get("blocked"))
    if require_prospect(services, prospect_id).state in _NEEDS_DRAFT and blocked:
        assert artifact is not None
        services.store.reviews.enqueue(
            prospect_id=prospect_id, artifact_id=artifact_id, kind="policy_violation"
        )
        report.status, report.detail = "escalated", "; ".join(artifact.meta["violations"])[:300]
        services.store.prospects.apply_event(
            prospect_id,
            Event.DRAFT_READY_FOR_REVIEW,
            actor=POLICY_ACTOR,
            rationale="draft breaks the output policy: escalated, can never be approved or sent",
            details={"draft_artifact": artifact_id, "violations": artifact.meta["violations"]},
            run_id=run_id,
        )
    elif require_prospect(services, prospect_id).state in _NEEDS_DRAFT:
        if group.mode == "copilot" or confidence < group.escalate_below:
            services.store.reviews.enqueue(prospect_id=prospect_id, artifact_id=artifact_id, kind="draft")
            why = (
                "copilot group: drafts wait for the operator"
                if group.mode == "copilot"
                else (f"confidence {confidence} below {group.escalate_below}: escalated")
            )
            services.store.prospects.apply_event(
                prospect_id,
                Event.DRAFT_READY_FOR_REVIEW,
                actor=MODE_ACTOR,
                rationale=why,
                details={"draft_artifact": artifact_id},
                run_id=run_id,
            )
        else:
            services.store.prospects.apply_event(
                prospect_id,
                Event.DRAFT_AUTO_APPROVED,
                actor=MODE_ACTOR,
                rationale=(
                    f"dark-factory group {group.name}: confidence {confidence} >= {group.escalate_below}"
                ),
                details={"draft_artifact": artifact_id},
                run_id=run_id,
            )
            if sampled(prospect_id, artifact_id, group.sample_rate):
                services.store.reviews.enqueue(
                    prospect_id=prospect_id, artifact_id=artifact_id, kind="audit_sample"
                )
    report.state = require_prospect(services, prospect_id).state.value
    return report


def build_context_pack(services: Services, prospect_id: str, *, run_id: str | None = None) -> StepReport:
    """Prepare what the operator needs for a manual LinkedIn touch (no state change)."""
    produced = _produce(services, prospect_id, CONTEXT_PACK_SKILL, "context_pack", run_id, _PACKABLE)
    produced.report.state = require_prospect(services, prospect_id).state.value
    return produced.report

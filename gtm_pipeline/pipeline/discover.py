"""Discovery: find companies showing a behavioural signal the hypothesis is looking for.

The discover-prospects skill judges each candidate's dated posts and news; code decides
what follows. A candidate is registered as a prospect only with a dated signal in the
recency window; the same company under another spelling is the same prospect id and is
recorded once; a company already registered stays as it is (no second prospect, ever).
A suppressed identity (erased, unsubscribed, complained) is never rediscovered, and a
conflict (a customer, an open deal, the same person elsewhere, a second hypothesis) is
registered in state ``conflict`` so the operator sees it, never touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gtm_pipeline.domain.contracts import DiscoveryFinding
from gtm_pipeline.domain.hypothesis import Hypothesis
from gtm_pipeline.domain.ids import email_hash, prospect_id
from gtm_pipeline.domain.states import PRE_SEND, Event, State
from gtm_pipeline.pipeline.conflicts import CONFLICT_ACTOR, account_conflict, person_conflict
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.store import NewProspect

SKILL = "discover-prospects"


@dataclass
class DiscoveryReport:
    """What one discovery pass found (ids and counts only)."""

    hypothesis: str
    candidates: int = 0
    registered: list[str] = field(default_factory=list)
    already_known: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    dead_lettered: list[str] = field(default_factory=list)
    suppressed: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    journal_ids: list[str] = field(default_factory=list)

    @property
    def prospect_ids(self) -> list[str]:
        """Every prospect this hypothesis has (new and known): the partitions to register."""
        return sorted(set(self.registered) | set(self.already_known))


def discover(services: Services, hypothesis: Hypothesis, *, run_id: str | None = None) -> DiscoveryReport:
    """Run discovery for ``hypothesis`` over the discovery source (the bundled corpus)."""
    skill = services.catalog.skill(SKILL)
    report = DiscoveryReport(hypothesis=hypothesis.slug)
    seen: set[str] = set()
    inputs_base = {
        "hypothesis": hypothesis.model_dump(mode="json", exclude={"body"}),
        "as_of": services.corpus.as_of.isoformat(),
    }
    for candidate in services.corpus.candidates():
        report.candidates += 1
        pid = prospect_id(candidate.domain)
        if pid in seen:
            report.duplicates.append(pid)
            continue
        seen.add(pid)
        existing = services.store.prospects.get(pid)
        if existing is not None:
            report.already_known.append(pid)
            if existing.hypothesis_slug != hypothesis.slug and _cross_hypothesis_conflict(
                services, existing.id, existing.state, hypothesis.slug, run_id
            ):
                report.conflicts.append(pid)
            continue
        contact = candidate.contact
        contact_hash = email_hash(contact.email) if contact else None
        if services.store.privacy.suppression_reason(pid, contact_hash or "") is not None:
            report.suppressed.append(pid)  # no skill call, no registration, nothing stored about them
            continue
        outcome = services.runner.run(
            skill,
            subject=pid,
            inputs={**inputs_base, "company": {"name": candidate.name, "domain": candidate.domain}},
            sources=services.corpus.discovery_documents(candidate),
            run_id=run_id,
        )
        report.journal_ids.append(outcome.journal_entry_id)
        if outcome.waiting:
            report.waiting.append(pid)
            continue
        if outcome.result is None:
            report.dead_lettered.append(pid)
            continue
        finding = outcome.result.finding
        assert isinstance(finding, DiscoveryFinding)
        if not finding.signal_found:
            report.rejected.append(pid)
            continue
        services.store.prospects.add(
            NewProspect(
                id=pid,
                hypothesis_slug=hypothesis.slug,
                company_domain=candidate.domain,
                company_name=candidate.name,
                contact_name=contact.name if contact else None,
                contact_email=contact.email if contact else None,
                contact_role=contact.role if contact else None,
                contact_timezone=contact.timezone if contact else None,
            ),
            actor=skill.actor,
            payload={
                "hypothesis": hypothesis.slug,
                "hypothesis_version": hypothesis.version,
                "signal_type": finding.signal_type,
                "signal_date": finding.signal_date.isoformat() if finding.signal_date else None,
                "signal_source_id": finding.signal_source_id,
                "skill_result_entry": outcome.journal_entry_id,
            },
            run_id=run_id,
        )
        report.registered.append(pid)
        reason = account_conflict(services.accounts, candidate.domain) or (
            person_conflict(services.store.prospects.with_email_hash(contact_hash), pid)
            if contact_hash
            else None
        )
        if reason is not None:
            services.store.prospects.apply_event(
                pid, Event.CONFLICT_DETECTED, actor=CONFLICT_ACTOR, rationale=reason, run_id=run_id
            )
            report.conflicts.append(pid)
    return report


def _cross_hypothesis_conflict(
    services: Services, prospect_id: str, state: State, other_hypothesis: str, run_id: str | None
) -> bool:
    """A second hypothesis reached a known prospect: stop it before any touch, or note it if in flight."""
    rationale = f"also reached through hypothesis {other_hypothesis}"
    if state in PRE_SEND:
        services.store.prospects.apply_event(
            prospect_id, Event.CONFLICT_DETECTED, actor=CONFLICT_ACTOR, rationale=rationale, run_id=run_id
        )
        return True
    services.store.journal.append(
        subject=prospect_id,
        kind="conflict_noted",
        actor=CONFLICT_ACTOR,
        payload={"rationale": rationale + "; already in flight, no second touch", "state": state.value},
        dedupe_key=f"conflict:{prospect_id}:{other_hypothesis}",
        run_id=run_id,
    )
    return False

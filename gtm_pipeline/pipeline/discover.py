"""Discovery: find companies showing a behavioural signal the hypothesis is looking for.

The sources are asked and every hit checked in plain code (:mod:`gtm_pipeline.pipeline.signal_search`:
quote in the fetched page, a known date inside the lookback, not excluded, attributed to a company's
own site); candidates merge by normalised domain with every signal kept, and are scored with the
hypothesis' weights and recency. The discover-prospects skill then judges each new candidate's
pages; code decides what follows:

- a new company with a score at or above ``discovery.min_score`` and a signal the skill confirms is
  registered as a prospect, with its signals, score and each signal's contribution journaled;
- a company already registered is never added again: a signal not seen before is journaled on it,
  and a prospect waiting in ``not_now`` for that kind of signal is reopened by the state machine
  (``signal_reopened``, with the signal as the reason);
- a suppressed identity (erased, unsubscribed, complained) is never rediscovered, and a conflict (a
  customer, an open deal, the same person elsewhere, a second hypothesis) is registered in state
  ``conflict`` so the operator sees it, never touched;
- every hit that did not count is journaled with its reason on the hypothesis' discovery record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gtm_pipeline.domain.contracts import DiscoveryFinding
from gtm_pipeline.domain.hypothesis import Hypothesis
from gtm_pipeline.domain.ids import email_hash, prospect_id
from gtm_pipeline.domain.signals import Candidate, Signal
from gtm_pipeline.domain.states import PRE_SEND, Event, State
from gtm_pipeline.pipeline.conflicts import CONFLICT_ACTOR, account_conflict, person_conflict
from gtm_pipeline.pipeline.research import keep_source
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.pipeline.signal_search import SKILL, Gathered, gather
from gtm_pipeline.sources.corpus import Contact
from gtm_pipeline.store import NewProspect

__all__ = ["SKILL", "DiscoveryReport", "discover", "discovery_subject"]
SIGNAL_ACTOR = "rule:signals@1"


def discovery_subject(slug: str) -> str:
    """The journal subject of a hypothesis' discovery record (passes, rejected hits)."""
    return f"hypothesis:{slug}"


@dataclass
class DiscoveryReport:
    """What one discovery pass found (ids and counts only)."""

    hypothesis: str
    candidates: int = 0
    registered: list[str] = field(default_factory=list)
    already_known: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    below_score: list[str] = field(default_factory=list)
    dead_lettered: list[str] = field(default_factory=list)
    suppressed: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    reopened: list[str] = field(default_factory=list)
    new_signals: int = 0
    journal_ids: list[str] = field(default_factory=list)
    gathered: Gathered | None = None

    @property
    def prospect_ids(self) -> list[str]:
        """Every prospect this hypothesis has (new and known): the partitions to register."""
        return sorted(set(self.registered) | set(self.already_known))

    def metadata(self) -> dict[str, Any]:
        """Counts for Dagster's materialization (no names, no quotes)."""
        summary = self.gathered.summary() if self.gathered else {}
        return {
            "candidates": self.candidates,
            "registered": len(self.registered),
            "already_known": len(self.already_known),
            "duplicates": len(self.duplicates),
            "rejected": len(self.rejected),
            "below_score": len(self.below_score),
            "dead_lettered": len(self.dead_lettered),
            "reopened": len(self.reopened),
            "new_signals_on_known": self.new_signals,
            "hits": summary.get("hits", 0),
            "hits_rejected": summary.get("rejected", {}),
            "calls": summary.get("calls", {}),
            "cache_hits": summary.get("cache_hits", {}),
            "spend_usd": summary.get("spend_usd", 0.0),
            "source_failures": len(summary.get("failures", [])),
        }


def discover(services: Services, hypothesis: Hypothesis, *, run_id: str | None = None) -> DiscoveryReport:
    """Run discovery for ``hypothesis`` over its sources, and act on what it finds."""
    gathered = gather(services, hypothesis)
    report = DiscoveryReport(hypothesis=hypothesis.slug, gathered=gathered)
    _journal_pass(services, hypothesis, gathered, run_id)
    report.candidates = len(gathered.offered)
    seen: set[str] = set()
    for (_name, _spelling), domain in gathered.offered.items():
        pid = prospect_id(domain)
        if pid in seen:
            report.duplicates.append(pid)
        seen.add(pid)
    for domain in sorted({d for d in gathered.offered.values()}):
        candidate = gathered.candidates.get(domain)
        if candidate is None:
            report.rejected.append(prospect_id(domain))  # every hit on it was rejected, with reasons
            continue
        _one(services, hypothesis, gathered, candidate, report, run_id)
    return report


def _one(
    services: Services,
    hypothesis: Hypothesis,
    gathered: Gathered,
    candidate: Candidate,
    report: DiscoveryReport,
    run_id: str | None,
) -> None:
    pid = prospect_id(candidate.domain)
    existing = services.store.prospects.get(pid)
    if existing is not None:
        report.already_known.append(pid)
        _watch(services, pid, existing.state, candidate.signals, report, run_id)
        if existing.hypothesis_slug != hypothesis.slug and _cross_hypothesis_conflict(
            services, existing.id, existing.state, hypothesis.slug, run_id
        ):
            report.conflicts.append(pid)
        return
    contact = _listed_contact(services, candidate.domain)
    contact_hash = email_hash(contact.email) if contact else None
    if services.store.privacy.suppression_reason(pid, contact_hash or "") is not None:
        report.suppressed.append(pid)  # no skill call, no registration, nothing stored about them
        return
    if candidate.score < hypothesis.discovery.min_score:
        report.below_score.append(pid)
        report.rejected.append(pid)
        return
    skill = services.catalog.skill(SKILL)
    docs = gathered.pages.get(candidate.domain, {})
    outcome = services.runner.run(
        skill,
        subject=pid,
        inputs={
            "hypothesis": hypothesis.model_dump(mode="json", exclude={"body"}),
            "as_of": gathered.today.isoformat(),
            "company": {"name": candidate.name, "domain": candidate.domain},
        },
        sources=[docs[k] for k in sorted(docs)],
        run_id=run_id,
    )
    report.journal_ids.append(outcome.journal_entry_id)
    if outcome.waiting:
        report.waiting.append(pid)
        return
    if outcome.result is None:
        report.dead_lettered.append(pid)
        return
    finding = outcome.result.finding
    assert isinstance(finding, DiscoveryFinding)
    if not finding.signal_found:
        report.rejected.append(pid)
        return
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
            "score": candidate.score,
            "sources": candidate.sources,
            "signals": [s.as_dict() for s in candidate.signals],
        },
        run_id=run_id,
    )
    report.registered.append(pid)
    _keep_pages(services, pid, gathered, candidate, run_id)
    reason = account_conflict(services.accounts, candidate.domain) or (
        person_conflict(services.store.prospects.with_email_hash(contact_hash), pid) if contact_hash else None
    )
    if reason is not None:
        services.store.prospects.apply_event(
            pid, Event.CONFLICT_DETECTED, actor=CONFLICT_ACTOR, rationale=reason, run_id=run_id
        )
        report.conflicts.append(pid)


def _listed_contact(services: Services, domain: str) -> Contact | None:
    """The person a list names at this company (the sample corpus stands in for an imported list)."""
    for listed in services.corpus.candidates():
        if listed.domain == domain and listed.contact is not None:
            return listed.contact
    return None


def _keep_pages(
    services: Services, pid: str, gathered: Gathered, candidate: Candidate, run_id: str | None
) -> None:
    """The pages the signals were checked against become the prospect's first sources: the review
    card can show each quote where it was found."""
    docs = gathered.pages.get(candidate.domain, {})
    for source_id in sorted({s.source_id for s in candidate.signals}):
        doc = docs.get(source_id)
        if doc is None:
            continue
        keep_source(
            services, pid, doc, gathered.provenance.get(source_id, {}), run_id=run_id, found_by="discovery"
        )


def _watch(
    services: Services,
    pid: str,
    state: State,
    signals: list[Signal],
    report: DiscoveryReport,
    run_id: str | None,
) -> None:
    """Journal each signal not seen before on a known prospect; reopen a ``not_now`` prospect that
    waits for that kind of signal (deterministically, the signal as the reason)."""
    from gtm_pipeline.domain.history import fold

    entries = services.store.journal.entries(pid)
    known = {
        (str(e.payload.get("url")), str(e.payload.get("kind")))
        for e in entries
        if e.kind == "signal_observed"
    }
    for entry in entries:
        if entry.kind == "discovered":
            known |= {(str(s.get("url")), str(s.get("kind"))) for s in entry.payload.get("signals", [])}
    fresh = [s for s in signals if (s.url, s.kind) not in known]
    for signal in fresh:
        services.store.journal.append(
            subject=pid,
            kind="signal_observed",
            actor=SIGNAL_ACTOR,
            payload=signal.as_dict(),
            dedupe_key=f"signal:{pid}:{signal.url}:{signal.kind}",
            run_id=run_id,
        )
    report.new_signals += len(fresh)
    if state is not State.NOT_NOW or not fresh:
        return
    waiting_for = set(fold(entries).revisit_when)
    wanted = [s for s in fresh if s.kind in waiting_for]
    if not wanted:
        return
    signal = max(wanted, key=lambda s: (s.date, s.url))
    decision = services.store.prospects.apply_event(
        pid,
        Event.SIGNAL_REOPENED,
        actor=SIGNAL_ACTOR,
        rationale=f"{signal.kind} signal dated {signal.date.isoformat()}: {signal.url}",
        details={"signal": signal.as_dict(), "waiting_for": sorted(waiting_for)},
        run_id=run_id,
    )
    if decision.allowed:
        report.reopened.append(pid)


def _journal_pass(services: Services, hypothesis: Hypothesis, gathered: Gathered, run_id: str | None) -> None:
    """The pass's counts, and every rejected hit with its reason (no quotes: reasons, URLs, sources)."""
    subject = discovery_subject(hypothesis.slug)
    day = gathered.today.isoformat()
    for rejection in gathered.rejections:
        services.store.journal.append(
            subject=subject,
            kind="signal_rejected",
            actor=SIGNAL_ACTOR,
            payload=rejection.as_dict(),
            dedupe_key=f"rejected:{hypothesis.slug}:{rejection.url}:{rejection.reason}:{day}",
            run_id=run_id,
        )
    for failure in gathered.failures:
        services.store.journal.append(
            subject=subject,
            kind="source_failed",
            actor=SIGNAL_ACTOR,
            payload=failure,
            dedupe_key=f"failed:{hypothesis.slug}:{failure['source']}:{failure['query']}:{day}",
            run_id=run_id,
        )


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

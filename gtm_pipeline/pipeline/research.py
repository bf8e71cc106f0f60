"""Research: fetch a prospect's raw sources, then augment them into a profile.

Fetching is deterministic (same snapshot, same documents, same hashes). Augmentation is
the augment-profile skill's bounded judgment; whether the prospect is qualified is then
decided here, in plain code, against the hypothesis' threshold, so it can be replayed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from gtm_pipeline.domain.contracts import ProfileFinding, SkillResult, result_model
from gtm_pipeline.domain.sources import SourceDoc
from gtm_pipeline.domain.states import DISQUALIFIED, TERMINAL, Event, State
from gtm_pipeline.pipeline.contacts import record_published_contacts
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.pipeline.step_report import StepReport, current_artifact
from gtm_pipeline.skills.runner import input_hash
from gtm_pipeline.sources.site import visit_site
from gtm_pipeline.store import ArtifactRecord, ProspectRecord

AUGMENT_SKILL = "augment-profile"
RULE_ACTOR = "rule:qualification@1"
FETCH_ACTOR = "rule:fetcher@1"


@dataclass
class FetchReport:
    """Which sources a fetch recorded for a prospect (ids and hashes only)."""

    prospect_id: str
    source_ids: list[str]
    source_hashes: list[str]
    new: int

    def metadata(self) -> dict[str, object]:
        return {
            "prospect_id": self.prospect_id,
            "sources": len(self.source_ids),
            "new_sources": self.new,
            "source_ids": ",".join(self.source_ids),
            "source_hashes": ",".join(h[:16] for h in self.source_hashes),
        }


def require_prospect(services: Services, prospect_id: str) -> ProspectRecord:
    prospect = services.store.prospects.get(prospect_id)
    if prospect is None:
        raise KeyError(f"unknown prospect {prospect_id}: run discovery first")
    return prospect


def fetch_sources(services: Services, prospect_id: str, *, run_id: str | None = None) -> FetchReport:
    """Fetch and store every source of the prospect's company (idempotent): from its site through
    the fetcher when ``fetch.enabled`` is on, else from the sample corpus's snapshot of it."""
    prospect = require_prospect(services, prospect_id)
    if prospect.state in DISQUALIFIED | TERMINAL:
        # An erased or stopped prospect is never fetched again: nothing new is stored about them.
        return FetchReport(prospect_id, [], [], 0)
    # With fetching on, every company is read from its own site, the sample companies included
    # (`gtm demo` serves them from the web twin); the bundled snapshot stands in only while it is off.
    provenance: dict[str, dict[str, object]] = {}
    docs = [] if services.web is not None else services.corpus.fetch(prospect.company_domain)
    if not docs:
        docs, provenance = _from_the_web(services, prospect, run_id)
    new = 0
    for doc in docs:
        new += int(keep_source(services, prospect_id, doc, provenance.get(doc.source_id, {}), run_id=run_id))
    return FetchReport(prospect_id, [d.source_id for d in docs], [d.content_hash for d in docs], new)


def keep_source(
    services: Services,
    prospect_id: str,
    doc: SourceDoc,
    provenance: dict[str, object],
    *,
    run_id: str | None,
    **extra: object,
) -> bool:
    """Store one fetched document as a raw source of the prospect, with where it came from
    (idempotent by content); True when it was new."""
    _id, created = services.store.artifacts.add(
        prospect_id=prospect_id,
        kind="raw_source",
        content=doc.text,
        source_id=doc.source_id,
        url=doc.url,
        source_kind=doc.kind,
        published_on=doc.published_on,
        meta={**provenance, "title": doc.title, "retrieved_at": doc.retrieved_at.isoformat(), **extra},
        run_id=run_id,
    )
    return bool(created)


def _from_the_web(
    services: Services, prospect: ProspectRecord, run_id: str | None
) -> tuple[list[SourceDoc], dict[str, dict[str, object]]]:
    """The company's own site, when fetching is on; every page not kept is journaled with its reason
    (robots, private address, size, type, timeout, HTTP status), and so is fetching being off."""
    today = services.clock.now().date()
    if services.web is None:
        services.store.journal.append(
            subject=prospect.id,
            kind="fetch_skipped",
            actor=FETCH_ACTOR,
            payload={"reason": "fetch.enabled is off", "domain": prospect.company_domain},
            dedupe_key=f"fetch-off:{prospect.id}:{today.isoformat()}",
            run_id=run_id,
        )
        return [], {}
    visit = visit_site(services.web, prospect.company_domain, today=today)
    for refusal in visit.refusals:
        services.store.journal.append(
            subject=prospect.id,
            kind="fetch_refused",
            actor=FETCH_ACTOR,
            payload={"url": refusal["url"], "reason": refusal["refused"], "detail": refusal["detail"][:300]},
            dedupe_key=f"refused:{prospect.id}:{refusal['url']}:{refusal['refused']}:{today.isoformat()}",
            run_id=run_id,
        )
    record_published_contacts(services, prospect, visit.people_pages, run_id=run_id)
    return visit.documents, visit.provenance


def stored_sources(services: Services, prospect_id: str) -> list[SourceDoc]:
    """The sources fetched for this prospect, as stored: what evidence is checked against."""
    latest: dict[str, SourceDoc] = {}
    for art in services.store.artifacts.of_kind(prospect_id, "raw_source"):
        if art.content is None or art.source_id is None:
            continue  # tombstoned
        latest[art.source_id] = SourceDoc(
            source_id=art.source_id,
            url=art.url or "",
            kind=art.source_kind or "unknown",
            title=str(art.meta.get("title", "")),
            text=art.content,
            published_on=art.published_on,
            retrieved_at=dt.datetime.fromisoformat(str(art.meta["retrieved_at"])),
            content_hash=art.content_hash,
        )
    return [latest[k] for k in sorted(latest)]


def profile_result(artifact: ArtifactRecord) -> SkillResult[ProfileFinding]:
    """Read a stored profile back, validating it against the contract on read."""
    if artifact.content is None:
        raise ValueError(f"profile {artifact.id} was tombstoned")
    return result_model(ProfileFinding).model_validate_json(artifact.content)


def signals_in_window(
    result: SkillResult[ProfileFinding], as_of: dt.date, days: int, sources: list[SourceDoc]
) -> int:
    """How many of the profile's signals are dated within ``days`` before ``as_of``, by the date of
    the source they cite: checked here in code, so a model that cites a two-year-old press release,
    or dates an undated careers page "today", cannot qualify a company on it. A signal counts only
    when its source was fetched for this prospect, is dated, and the signal carries that date."""
    dated = {d.source_id: d.published_on for d in sources if d.published_on is not None}
    return sum(
        1
        for s in result.finding.signals
        if dated.get(s.source_id) == s.date and 0 <= (as_of - s.date).days <= days
    )


def is_qualified(
    services: Services, prospect: ProspectRecord, result: SkillResult[ProfileFinding], as_of: dt.date
) -> bool:
    """The deterministic qualification rule applied to the skill's judgment."""
    hypothesis = services.hypotheses[prospect.hypothesis_slug]
    finding = result.finding
    return (
        finding.fit == "fit"
        and finding.fit_score >= hypothesis.qualify_threshold
        and not finding.disqualifiers_hit
        and signals_in_window(result, as_of, hypothesis.recency_days, stored_sources(services, prospect.id))
        > 0
    )


def _as_of(services: Services, sources: list[SourceDoc]) -> dt.date:
    """The day recency is judged against: when the sources were retrieved (a snapshot's day)."""
    return max((d.retrieved_at for d in sources), default=services.clock.now()).date()


def augment(services: Services, prospect_id: str, *, run_id: str | None = None) -> StepReport:
    """Build the prospect's profile with the augment-profile skill and route on it."""
    prospect = require_prospect(services, prospect_id)
    hypothesis = services.hypotheses.get(prospect.hypothesis_slug)
    if hypothesis is None:
        return StepReport(
            prospect_id, "skipped", prospect.state.value, f"hypothesis {prospect.hypothesis_slug} gone"
        )
    if prospect.state in DISQUALIFIED | TERMINAL:
        return StepReport(
            prospect_id, "skipped", prospect.state.value, f"state {prospect.state.value}: no research"
        )
    skill = services.catalog.skill(AUGMENT_SKILL)
    sources = stored_sources(services, prospect_id)
    if not sources:
        blocked = _blocked(services, prospect)
        if blocked is not None:
            # Not a verdict on the company: it waits, in `discovered`, and the operator is told.
            services.store.escalations.raise_(
                "research_blocked",
                f"research_blocked:{prospect_id}:{services.clock.now().date().isoformat()}",
                subject=prospect_id,
                detail=blocked,
            )
            return StepReport(prospect_id, "waiting", prospect.state.value, blocked)
        return _nothing_to_judge(services, prospect, run_id)
    inputs = {
        "hypothesis": hypothesis.model_dump(mode="json", exclude={"body"}),
        "company": {"name": prospect.company_name, "domain": prospect.company_domain},
        "as_of": _as_of(services, sources).isoformat(),
    }
    digest = input_hash(skill, inputs, sources)
    report = StepReport(prospect_id, "done", prospect.state.value)
    latest = current_artifact(services.store, prospect_id, "profile", digest)
    if latest is not None:
        # Same skill text, inputs and sources: the stored result stands, no provider call.
        report.mark_unchanged(latest, skill, digest)
        artifact_id, entry_id = latest.id, latest.journal_entry_id
    else:
        if prospect.state is State.DISCOVERED:
            services.store.prospects.apply_event(
                prospect_id,
                Event.RESEARCH_STARTED,
                actor=RULE_ACTOR,
                rationale="sources fetched",
                run_id=run_id,
            )
        outcome = services.runner.run(
            skill, subject=prospect_id, inputs=inputs, sources=sources, prospect_id=prospect_id, run_id=run_id
        )
        report.record_outcome(outcome)
        if outcome.result is None:
            report.status = "waiting" if outcome.waiting else "dead_letter"
            report.detail = outcome.waiting or report.detail
            report.state = require_prospect(services, prospect_id).state.value
            return report
        artifact_id, _ = services.store.artifacts.add(
            prospect_id=prospect_id,
            kind="profile",
            content=outcome.result.model_dump_json(),
            meta={"input_hash": digest, "skill": skill.name, "skill_version": skill.version},
            journal_entry_id=outcome.journal_entry_id,
            run_id=run_id,
        )
        report.artifact_id, entry_id = artifact_id, outcome.journal_entry_id
    _route(services, prospect_id, artifact_id, entry_id, report, run_id=run_id)
    report.state = require_prospect(services, prospect_id).state.value
    return report


TRANSIENT = {"timeout", "unreachable", "http_429"}


def _blocked(services: Services, prospect: ProspectRecord) -> str | None:
    """Why nothing could be fetched *for now* (fetching off, a timeout, a site or robots.txt that
    answered 5xx), or None when the site answered and simply has nothing to keep."""
    latest: dict[str, Any] = {}
    for entry in reversed(services.store.journal.entries(prospect.id)):
        if entry.kind in ("fetch_skipped", "fetch_refused"):
            latest = {"kind": entry.kind, **entry.payload}
            break
    if not latest:
        return None
    if latest["kind"] == "fetch_skipped":
        return (
            f"{prospect.company_domain} is not in the sample corpus and fetch.enabled is off: "
            "turn it on, then re-run this prospect's research"
        )
    reason = str(latest.get("reason"))
    detail = str(latest.get("detail", ""))
    if reason in TRANSIENT or reason.startswith("http_5") or "unavailable robots.txt" in detail:
        why = f"{reason}: {detail[:120]}"
        return f"{prospect.company_domain} could not be read now ({why}): re-run its research later"
    return None


def _nothing_to_judge(services: Services, prospect: ProspectRecord, run_id: str | None) -> StepReport:
    """The site answered and nothing could be kept (robots.txt forbids it, pages missing, wrong
    types): nothing dated to qualify on, so not a fit, by rule and with the reason, without a skill
    call. (A failure that may pass is not a verdict: see :func:`_blocked`.)"""
    if prospect.state is State.DISCOVERED:
        services.store.prospects.apply_event(
            prospect.id,
            Event.RESEARCH_STARTED,
            actor=RULE_ACTOR,
            rationale="no sources fetched",
            run_id=run_id,
        )
    decision = services.store.prospects.apply_event(
        prospect.id,
        Event.DISQUALIFIED,
        actor=RULE_ACTOR,
        rationale=f"no source could be fetched for {prospect.company_domain}: no dated signal to qualify on",
        details={"rule": "no_sources"},
        run_id=run_id,
    )
    state = require_prospect(services, prospect.id).state.value
    return StepReport(prospect.id, "done", state, decision.reason)


def _route(
    services: Services,
    prospect_id: str,
    artifact_id: str,
    skill_entry: str | None,
    report: StepReport,
    *,
    run_id: str | None,
) -> None:
    """Qualify or disqualify a prospect still in research, or escalate a low-confidence profile.

    Runs on a fresh profile and on an unchanged one, so a crash between storing the profile
    and routing it is healed by the next run instead of leaving the prospect stuck.
    """
    current = require_prospect(services, prospect_id)
    if current.state is not State.RESEARCHING:
        return
    artifact = services.store.artifacts.get(artifact_id)
    assert artifact is not None
    result = profile_result(artifact)
    group = services.catalog.skill(AUGMENT_SKILL).group.spec
    if result.confidence < group.escalate_below:
        created = services.store.reviews.enqueue(
            prospect_id=prospect_id, artifact_id=artifact_id, kind="escalation"
        )
        report.status = "escalated"
        report.detail = f"confidence {result.confidence} below {group.escalate_below}" + (
            "" if created else " (queued)"
        )
        return
    hypothesis = services.hypotheses[current.hypothesis_slug]
    as_of = _as_of(services, stored_sources(services, prospect_id))
    qualified = is_qualified(services, current, result, as_of)
    fresh = signals_in_window(result, as_of, hypothesis.recency_days, stored_sources(services, prospect_id))
    decision = services.store.prospects.apply_event(
        prospect_id,
        Event.QUALIFIED if qualified else Event.DISQUALIFIED,
        actor=RULE_ACTOR,
        rationale=(
            f"fit={result.finding.fit} score={result.finding.fit_score} "
            f"threshold={hypothesis.qualify_threshold} disqualifiers={result.finding.disqualifiers_hit} "
            f"signals_in_window={fresh}/{len(result.finding.signals)} "
            f"(within {hypothesis.recency_days} days of {as_of.isoformat()})"
        ),
        details={"profile_artifact": artifact_id, "skill_result_entry": skill_entry},
        run_id=run_id,
    )
    report.detail = decision.reason

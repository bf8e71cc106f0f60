"""Run a skill: build the request, call the group's provider, validate on read, record.

The policy is fixed and deterministic: up to ``max_attempts`` calls with the *same*
input; an output that fails JSON parsing, the pydantic contract or the evidence check is
never fed back to the model (no re-prompt loop). When every attempt fails the raw output
and the reason go to the dead-letter queue, and the journal says so: never silent.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from gtm_pipeline.domain.clock import Clock, SystemClock
from gtm_pipeline.domain.contracts import (
    DeadLetterReason,
    Evidence,
    Finding,
    Producer,
    SkillOutput,
    SkillResult,
    output_json_schema,
    output_model,
    result_model,
)
from gtm_pipeline.domain.ids import content_hash
from gtm_pipeline.domain.journal import canonical_json
from gtm_pipeline.domain.sources import SourceDoc, evidence_problems
from gtm_pipeline.providers.base import ProviderReply, SkillRequest
from gtm_pipeline.providers.pricing import PriceTable
from gtm_pipeline.providers.prompt import prompt_hash
from gtm_pipeline.providers.routing import AllProvidersFailed, ProviderRouter, RateLimited
from gtm_pipeline.skills import waits
from gtm_pipeline.skills.catalog import Skill
from gtm_pipeline.store import Store
from gtm_pipeline.store.skill_batches import IN_FLIGHT, QUEUED, SkillBatches

# The ``waiting`` of a call queued for its provider's batch API: the prospect's run ends here and the
# ``skill_batches`` sensor requests another once the batch has ended and the result is journaled.
BATCHED = "batched"


@dataclass(frozen=True)
class SkillOutcome:
    """What a skill call produced: a validated result, or a dead letter."""

    skill: Skill
    input_hash: str
    attempts: int
    result: SkillResult[Any] | None
    journal_entry_id: str
    dead_letter_id: int | None = None
    failure: DeadLetterReason | None = None
    reply: ProviderReply | None = None
    route: list[dict[str, Any]] = field(default_factory=list)
    waiting: str | None = None
    reused: bool = False
    fallback: bool = False  # produced by another provider than the one its group prefers

    @property
    def ok(self) -> bool:
        return self.result is not None


def input_hash(skill: Skill, inputs: dict[str, Any], sources: list[SourceDoc]) -> str:
    """Identity of a call: same skill text, inputs and source contents give the same hash."""
    material = canonical_json(
        {"skill": skill.code_version, "inputs": inputs, "sources": sorted(d.content_hash for d in sources)}
    )
    return content_hash(material)


def batch_custom_id(skill: Skill, subject: str, digest: str) -> str:
    """A call's id in a provider batch: a hash of the memoization key (skill code, subject, input),
    so the same call queued twice is one item, and nothing personal travels to the provider."""
    return "sk_" + content_hash(f"{skill.code_version}:{subject}:{digest}")[:48]


def build_request(skill: Skill, inputs: dict[str, Any], sources: list[SourceDoc]) -> SkillRequest:
    """What every provider receives for one call of ``skill``."""
    return SkillRequest(
        skill=skill.name,
        skill_version=skill.version,
        instructions=skill.instructions,
        voice=skill.group.voice,
        output_contract=skill.spec.output,
        output_schema=output_json_schema(skill.finding_type),
        inputs=inputs,
        sources=sources,
    )


def parse_reply(
    skill: Skill, reply: ProviderReply, sources: list[SourceDoc]
) -> tuple[SkillOutput[Any] | None, DeadLetterReason | None]:
    """The on-read check of one reply: JSON, the contract, evidence from the given sources. Public
    because a batch's results (providers.batches) are checked by the same rules as a direct call."""
    try:
        json.loads(reply.text)
    except (json.JSONDecodeError, TypeError) as exc:
        return None, DeadLetterReason(kind="invalid_json", detail=f"output is not JSON: {exc}")
    try:
        output = output_model(skill.finding_type).model_validate_json(reply.text)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'output'}: {err['msg']}" for err in exc.errors()[:5]
        )
        return None, DeadLetterReason(kind="contract", detail=problems)
    problems_found = evidence_problems(list(output.evidence), sources)
    if problems_found:
        return None, DeadLetterReason(kind="evidence", detail="; ".join(problems_found[:5]))
    return output, None


class SkillRunner:
    """Runs skills for one pipeline step, recording results, spend and failures in the store."""

    def __init__(
        self,
        store: Store,
        router: ProviderRouter,
        prices: PriceTable | None = None,
        clock: Clock | None = None,
        *,
        batch: bool = False,
    ) -> None:
        self.store = store
        self.router = router
        self.prices = prices or PriceTable({})
        self.clock = clock or SystemClock()
        # Deferred mode: calls of groups with ``batch: true`` wait for their provider's batch API.
        # Off by default, so a fresh prospect an operator waits on is never delayed; a backfill or
        # re-score run switches it on (its ``gtm/batch`` tag, ``defs.names.batch_requested``).
        self.batch = batch

    def run(
        self,
        skill: Skill,
        *,
        subject: str,
        inputs: dict[str, Any],
        sources: list[SourceDoc],
        prospect_id: str | None = None,
        run_id: str | None = None,
    ) -> SkillOutcome:
        """Call ``skill`` for ``subject`` (a prospect id, or a hypothesis for discovery)."""
        request = build_request(skill, inputs, sources)
        digest = input_hash(skill, inputs, sources)
        group = skill.group.spec
        known = self._known_outcome(skill, subject, digest, prospect_id)
        if known is not None:
            return known
        if self.batch and group.batch:
            deferred = self._defer(skill, subject, digest, request, prospect_id, run_id)
            if deferred is not None:
                return deferred
        else:  # a direct run: a call a batch run queued is not paid for twice
            waiting = self._batched_elsewhere(skill, subject, digest, run_id)
            if waiting is not None:
                return waiting
        failure: DeadLetterReason | None = None
        reply: ProviderReply | None = None
        route: list[dict[str, Any]] = []
        for attempt in range(1, skill.spec.max_attempts + 1):
            today = self.clock.now().date()
            if (
                group.daily_spend_cap_usd is not None
                and self.store.spend.on(today, group.name) >= group.daily_spend_cap_usd
            ):
                return self._wait_for_budget(skill, subject, digest, today, run_id)
            try:
                reply, trail = self.router.complete(group.providers, request)
            except RateLimited as exc:  # busy, not broken: wait for a later run, no dead letter
                return self._wait_for_rate(skill, subject, digest, today, exc, route, run_id)
            except AllProvidersFailed as exc:
                route += [a.as_dict() for a in exc.trail]
                failure = DeadLetterReason(kind="provider_error", detail=str(exc))
                continue
            route += [a.as_dict() for a in trail]
            self._escalate_open_circuits(route, today)
            fallback = self._fallback(group.name, group.providers, trail[-1].provider, today)
            cost = self.prices.cost(reply.model, reply.usage)
            self.store.spend.record(
                day=today,
                group=group.name,
                provider=reply.provider,
                model=reply.model,
                usage=reply.usage,
                cost_usd=cost,
            )
            output, failure = parse_reply(skill, reply, sources)
            if output is not None:
                return self.record_result(
                    skill,
                    subject=subject,
                    digest=digest,
                    output=output,
                    reply=reply,
                    request=request,
                    attempt=attempt,
                    cost=cost,
                    route=route,
                    fallback=fallback,
                    run_id=run_id,
                )
        assert failure is not None
        return self.dead_letter(
            skill,
            subject=subject,
            digest=digest,
            failure=failure,
            raw_output=reply.text if reply else None,
            attempts=skill.spec.max_attempts,
            route=route,
            prospect_id=prospect_id,
            run_id=run_id,
            reply=reply,
        )

    def record_result(
        self,
        skill: Skill,
        *,
        subject: str,
        digest: str,
        output: SkillOutput[Any],
        reply: ProviderReply,
        request: SkillRequest,
        attempt: int,
        cost: float,
        route: list[dict[str, Any]],
        fallback: bool = False,
        run_id: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> SkillOutcome:
        """Journal a validated result under the call's key (``skill:<code>:<subject>:<input>:``), the
        key :meth:`_known_outcome` finds: a direct call and a collected batch item record the same way,
        so a later run reuses either without a call. ``extra``: more payload (a batch's id)."""
        result = self._result(skill, output, reply, request, request.sources, attempt, cost)
        entry = self.store.journal.append(
            subject=subject,
            kind="skill_result",
            actor=skill.actor,
            payload={
                "input_hash": digest,
                "result": result.model_dump(mode="json"),
                "route": route,
                "fallback": fallback,
                **(extra or {}),
            },
            dedupe_key=f"skill:{skill.code_version}:{subject}:{digest}:{content_hash(reply.text)[:16]}",
            run_id=run_id,
        )
        return SkillOutcome(
            skill, digest, attempt, result, entry, reply=reply, route=route, fallback=fallback
        )

    def dead_letter(
        self,
        skill: Skill,
        *,
        subject: str,
        digest: str,
        failure: DeadLetterReason,
        raw_output: str | None,
        attempts: int,
        route: list[dict[str, Any]],
        prospect_id: str | None,
        run_id: str | None = None,
        reply: ProviderReply | None = None,
    ) -> SkillOutcome:
        """Every attempt failed: keep the call for the operator (escalated when new or reopened) and
        journal it, the same for a direct call and a batch item."""
        group = skill.group.spec
        dead_letter_id, _created = self.store.dead_letters.record(
            prospect_id=prospect_id,
            skill=skill.name,
            skill_version=skill.version,
            group=group.name,
            input_hash=digest,
            attempts=attempts,
            reason_kind=failure.kind,
            reason=failure.detail,
            raw_output=raw_output,
        )
        if _created:  # a new (or reopened after a retry) dead letter: the operator must see it
            self.store.escalations.raise_(
                "dead_letter",
                f"dead_letter:{dead_letter_id}:{self.clock.now().isoformat()}",
                subject=prospect_id or subject,
                detail=f"{skill.name}@{skill.version} ({group.name}): {failure.kind}: {failure.detail[:300]}",
            )
        entry = self.store.journal.append(
            subject=subject,
            kind="dead_letter",
            actor=skill.actor,
            payload={
                "input_hash": digest,
                "attempts": attempts,
                "reason_kind": failure.kind,
                "reason": failure.detail,
                "dead_letter_id": dead_letter_id,
                "route": route,
            },
            dedupe_key=f"dead:{skill.code_version}:{subject}:{digest}",
            run_id=run_id,
        )
        return SkillOutcome(skill, digest, attempts, None, entry, dead_letter_id, failure, reply, route=route)

    def _known_outcome(
        self, skill: Skill, subject: str, digest: str, prospect_id: str | None
    ) -> SkillOutcome | None:
        """Memoization: an identical call already produced a result, or is waiting in the dead-letter queue.

        The same skill text, subject and input give the same answer from a deterministic
        provider and an answer no better on average from a model, so a re-run spends
        nothing; a dead letter waits for the operator (retry or discard) instead of being
        re-sent on every run.
        """
        recorded = self.store.journal.recorded_skill_result(f"skill:{skill.code_version}:{subject}:{digest}:")
        if recorded is not None:
            result = result_model(skill.finding_type).model_validate(recorded.payload["result"])
            return SkillOutcome(skill, digest, 0, result, recorded.entry_id, reused=True)
        dead = self.store.dead_letters.find_open(
            prospect_id=prospect_id, skill=skill.name, skill_version=skill.version, input_hash=digest
        )
        if dead is not None:
            reason = DeadLetterReason(kind=dead["reason_kind"], detail=dead["reason"])
            entry = f"dead_letter:{dead['id']}"
            return SkillOutcome(skill, digest, 0, None, entry, int(dead["id"]), reason, reused=True)
        return None

    def _defer(
        self,
        skill: Skill,
        subject: str,
        digest: str,
        request: SkillRequest,
        prospect_id: str | None,
        run_id: str | None,
    ) -> SkillOutcome | None:
        """Queue the call for its provider's batch API instead of calling: a waiting outcome
        (``BATCHED``), journaled once per call. Queueing is idempotent (one row per call, keyed by an
        opaque hash), so a run finding the call already on its way just waits again.

        None hands the call to the direct path: the group's provider has no batch API to offer (the
        offline provider answers locally, for nothing), or this call already left the batch path
        (its host has no batch API, or an operator retried its dead letter)."""
        # The batch clients need both SDKs: imported only when a run defers (the default stays light).
        from gtm_pipeline.providers.batches import request_to_json, supports_batches

        group = skill.group.spec
        provider = self.router.preferred(group.providers)
        if provider is None or not supports_batches(self.router.providers[provider]):
            return None
        today = self.clock.now().date()
        if (
            group.daily_spend_cap_usd is not None
            and self.store.spend.on(today, group.name) >= group.daily_spend_cap_usd
        ):
            return self._wait_for_budget(skill, subject, digest, today, run_id)
        item = SkillBatches(self.store).enqueue(
            custom_id=batch_custom_id(skill, subject, digest),
            prospect_id=prospect_id,
            subject=subject,
            skill=skill.name,
            skill_version=skill.version,
            code_version=skill.code_version,
            group=group.name,
            provider=provider,
            input_hash=digest,
            request=request_to_json(request),
        )
        if item.status not in IN_FLIGHT:
            return None
        return self._waiting_for_batch(skill, subject, digest, provider, item.custom_id, run_id)

    def _batched_elsewhere(
        self, skill: Skill, subject: str, digest: str, run_id: str | None
    ) -> SkillOutcome | None:
        """A direct run (untagged) meeting a call a batch run queued: never paid twice. Still only
        queued, the run takes it (compare-and-set to ``direct``) and calls now; already claimed,
        submitted or being collected, the run waits for the batch's result like the run that queued
        it (the sensor requests the prospect's run once it settles). None: call directly."""
        batches = SkillBatches(self.store)
        custom_id = batch_custom_id(skill, subject, digest)
        item = batches.get(custom_id)
        if item is None or item.status not in IN_FLIGHT:
            return None
        reason = "a direct run called it before its batch"
        if item.status == QUEUED and batches.take_direct(item.id, reason):
            waits.batch_direct(
                self.store,
                group=skill.group.spec.name,
                provider=item.provider,
                subject=subject,
                custom_id=custom_id,
                reason=reason,
                run_id=run_id,
            )
            return None
        return self._waiting_for_batch(skill, subject, digest, item.provider, custom_id, run_id)

    def _waiting_for_batch(
        self, skill: Skill, subject: str, digest: str, provider: str, custom_id: str, run_id: str | None
    ) -> SkillOutcome:
        entry = waits.batch_queued(
            self.store,
            group=skill.group.spec.name,
            provider=provider,
            subject=subject,
            digest=digest,
            custom_id=custom_id,
            run_id=run_id,
        )
        return SkillOutcome(skill, digest, 0, None, entry, waiting=BATCHED)

    def _escalate_open_circuits(self, route: list[dict[str, Any]], day: dt.date) -> None:
        """A provider skipped because its circuit is open is an outage the operator must know of."""
        for attempt in route:
            if attempt.get("outcome") == "skipped:circuit_open":
                self.store.escalations.raise_(
                    "circuit_open",
                    f"circuit:{attempt.get('provider')}:{day.isoformat()}",
                    subject=str(attempt.get("provider")),
                    detail=f"provider {attempt.get('provider')} failing: its circuit opened, calls fail over",
                )

    def _fallback(self, group: str, chain: list[str], provider: str, day: dt.date) -> bool:
        """Whether ``provider`` stood in for the group's preferred one; if so the operator is told
        (once a day per group and provider): a result from a fallback is never silent."""
        preferred = self.router.preferred(chain)
        if preferred is None or provider == preferred:
            return False
        self.store.escalations.raise_(
            "provider_fallback",
            f"fallback:{group}:{provider}:{day.isoformat()}",
            subject=group,
            detail=f"group {group}: results from {provider} instead of {preferred} (failing or busy)",
        )
        return True

    def _wait_for_rate(
        self,
        skill: Skill,
        subject: str,
        digest: str,
        day: dt.date,
        exc: RateLimited,
        route: list[dict[str, Any]],
        run_id: str | None,
    ) -> SkillOutcome:
        """A provider kept answering 429 longer than the router waits: no call more, no lesser
        provider, no dead letter; the prospect waits for the next run and the operator is told
        (once a day per group)."""
        group = skill.group.spec
        self.store.escalations.raise_(
            "provider_busy",
            f"busy:{group.name}:{day.isoformat()}",
            subject=group.name,
            detail=f"group {group.name}: {exc}; calls wait for a later run",
        )
        entry = self.store.journal.append(
            subject=subject,
            kind="rate_limit_wait",
            actor=f"rule:rate-limit@1/{group.name}",
            payload={
                "group": group.name,
                "input_hash": digest,
                "route": route + [a.as_dict() for a in exc.trail],
            },
            dedupe_key=f"ratewait:{group.name}:{day.isoformat()}:{subject}:{digest}",
            run_id=run_id,
        )
        return SkillOutcome(skill, digest, 0, None, entry, waiting=f"provider busy for group {group.name}")

    def _wait_for_budget(
        self, skill: Skill, subject: str, digest: str, day: dt.date, run_id: str | None
    ) -> SkillOutcome:
        """The group's daily cap is reached: no call, the prospect waits (journaled once a day)."""
        group = skill.group.spec
        entry = waits.spend_cap_wait(
            self.store,
            group=group.name,
            cap=group.daily_spend_cap_usd,
            subject=subject,
            digest=digest,
            day=day,
            run_id=run_id,
        )
        return SkillOutcome(
            skill, digest, 0, None, entry, waiting=f"daily spend cap of group {group.name} reached"
        )

    @staticmethod
    def _result(
        skill: Skill,
        output: SkillOutput[Any],
        reply: ProviderReply,
        request: SkillRequest,
        sources: list[SourceDoc],
        attempt: int,
        cost: float = 0.0,
    ) -> SkillResult[Any]:
        by_id = {doc.source_id: doc for doc in sources}
        evidence = [
            Evidence(
                source_id=ref.source_id,
                quote=ref.quote,
                url=by_id[ref.source_id].url,
                retrieved_at=by_id[ref.source_id].retrieved_at,
            )
            for ref in output.evidence
        ]
        producer = Producer(
            skill=skill.name,
            skill_version=skill.version,
            group=skill.group.spec.name,
            mode=skill.group.spec.mode,
            provider=reply.provider,
            model=reply.model,
            prompt_hash=prompt_hash(request),
            attempt=attempt,
            usage=reply.usage,
            cost_usd=cost,
        )
        finding: Finding = output.finding
        return result_model(skill.finding_type)(
            finding=finding,
            rationale=output.rationale,
            confidence=output.confidence,
            alternatives=list(output.alternatives),
            evidence=evidence,
            producer=producer,
        )

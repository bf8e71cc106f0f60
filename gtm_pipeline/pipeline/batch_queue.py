"""Deferred skill calls through the providers' batch APIs: submit the queue, collect what ended.

A run in deferred mode (``SkillRunner(batch=True)``, a backfill tagged ``gtm/batch=1``) queues the
calls of ``batch: true`` groups in ``skill_batch_items`` instead of calling. A pass here (the
``skill_batches`` sensor, or ``bench/cost.py``) then:

* **submits** each provider's queued items as one batch (Anthropic Message Batches at half price;
  OpenAI's ``/v1/batches`` where the host has it). A host without a batch API
  (:class:`BatchUnsupported`) gets its items handed back to direct calls, escalated and journaled
  per item: the run that next meets the call calls it directly. Any other submission failure puts
  the items back in the queue, escalated (once a day per provider).
* **collects** every ended batch: each result is checked by the runner's own ``parse_reply`` (JSON,
  contract, evidence), its spend recorded at the batch price, and a valid one journaled by the
  runner's ``record_result`` under the key a direct call uses, so the prospect's next run reuses it
  and spends nothing. The collected batch is then deleted at the provider (its requests and results
  quote sources and contacts); a failed delete is escalated.

Failed items follow the direct path's fixed policy, one attempt per batch: an item that failed
(invalid output, an errored or expired item) is queued again *for the next batch*, the same input,
never a re-prompt, until it has had the skill's ``max_attempts``; then it is dead-lettered by the
runner's ``dead_letter``, exactly as a direct call's last failure. Retrying in the next batch rather
than directly keeps the batch price and lets a run that is meant to wait keep waiting.

Every move of an item is a claim under this pass's name (``store.skill_batches``), so two passes at
once (two sensor ticks, two processes) submit and collect each item once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gtm_pipeline.domain.contracts import DeadLetterReason, SkillOutput
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.providers.base import ProviderError, ProviderReply, SkillRequest
from gtm_pipeline.providers.batches import (
    BatchBackend,
    BatchCall,
    BatchOutcome,
    BatchUnsupported,
    batch_backend,
    collect,
    request_from_json,
)
from gtm_pipeline.skills.catalog import Skill
from gtm_pipeline.skills.runner import parse_reply
from gtm_pipeline.store import Store
from gtm_pipeline.store.claims import claimer as new_claimer
from gtm_pipeline.store.skill_batches import DEAD, DONE, QUEUED, STALE, BatchItem, SkillBatches

# Items per submitted batch (Anthropic takes 100,000 or 256 MB; OpenAI 50,000 lines or 200 MB): a
# smaller batch is collected sooner, and one tick's submission stays one short request.
MAX_ITEMS_PER_BATCH = 2000
BATCH_ACTOR = "rule:batch@1"
# Escalation kinds (``store.escalations.KINDS``): calls handed back to direct calls because the host
# has no batch API; a batch that could not be submitted, polled or read (its calls wait).
UNSUPPORTED_KIND = "batch_unsupported"
FAILED_KIND = "batch_failed"


@dataclass
class BatchPass:
    """What one pass did, for the sensor's log and the tests (counts only: no personal data)."""

    submitted: dict[str, int] = field(default_factory=dict)  # batch id -> items
    direct: int = 0  # handed back to direct calls
    released: int = 0  # a failed submission: back in the queue
    pending: int = 0  # batches still running at the provider
    settled: Counter[str] = field(default_factory=Counter)  # done / dead / queued (retry) / stale

    def summary(self) -> str:
        parts = [f"submitted {sum(self.submitted.values())} item(s) in {len(self.submitted)} batch(es)"]
        if self.direct:
            parts.append(f"{self.direct} handed to direct calls")
        if self.released:
            parts.append(f"{self.released} back in the queue")
        parts.append(f"{self.pending} batch(es) still running")
        if self.settled:
            parts.append("collected " + ", ".join(f"{k}={v}" for k, v in sorted(self.settled.items())))
        return "; ".join(parts)


class BatchQueue:
    """Submits and collects the deferred calls of one workspace (one pass at a time per instance)."""

    def __init__(self, services: Services, *, claimer: str | None = None) -> None:
        self.services = services
        self.store: Store = services.store
        self.items = SkillBatches(services.store)
        self.claimer = claimer or new_claimer()
        self._backends: dict[str, BatchBackend | None] = {}

    def run_pass(self) -> BatchPass:
        """Collect what ended, then submit what waits (a retried item goes out in this pass)."""
        report = BatchPass()
        self.collect_ended(report)
        self.submit_queued(report)
        return report

    def backend(self, provider: str) -> BatchBackend | None:
        if provider not in self._backends:
            configured = self.services.router.providers.get(provider)
            self._backends[provider] = batch_backend(configured) if configured is not None else None
        return self._backends[provider]

    # ------------------------------------------------------------ submitting

    def submit_queued(self, report: BatchPass | None = None) -> BatchPass:
        report = report or BatchPass()
        for provider in self.items.providers_queued():
            while True:
                claimed = self.items.claim_queued(provider, self.claimer, limit=MAX_ITEMS_PER_BATCH)
                if not claimed:
                    break
                if not self._submit(provider, claimed, report):
                    break
        return report

    def _submit(self, provider: str, claimed: list[BatchItem], report: BatchPass) -> bool:
        """One batch of ``provider``'s claimed items; False when the provider should not be tried
        again in this pass."""
        ids = [i.id for i in claimed]
        backend = self.backend(provider)
        if backend is None:
            why = f"provider {provider} is not configured with a batch API any more"
            self._hand_to_direct(provider, claimed, why)
            report.direct += len(claimed)
            return True
        calls = [BatchCall(i.custom_id, request_from_json(i.request)) for i in claimed]
        try:
            batch_id = backend.submit(calls)
        except BatchUnsupported as exc:
            self._hand_to_direct(provider, claimed, str(exc))
            report.direct += len(claimed)
            return True
        except ProviderError as exc:
            self.items.release(ids, self.claimer, str(exc))
            self._escalate(
                FAILED_KIND,
                provider,
                f"provider {provider}: a batch of {len(ids)} call(s) could not be submitted ({exc}); "
                "they stay queued and are submitted again on the next tick",
            )
            report.released += len(ids)
            return False
        self.items.mark_submitted(ids, self.claimer, batch_id)
        report.submitted[batch_id] = len(ids)
        return True

    def _hand_to_direct(self, provider: str, claimed: list[BatchItem], why: str) -> None:
        """Never silent: the operator is told (once a day per provider) and each call's journal says
        it went direct, with why; the run the sensor then requests calls it at the list price."""
        done = self.items.mark_direct([i.id for i in claimed], self.claimer, why)
        self._escalate(
            UNSUPPORTED_KIND,
            provider,
            f"provider {provider}: {why}; {done} deferred call(s) run as direct calls instead (list price)",
        )
        for item in claimed:
            self.store.journal.append(
                subject=item.subject,
                kind="batch_direct",
                actor=f"{BATCH_ACTOR}/{item.group_name}",
                payload={"provider": provider, "custom_id": item.custom_id, "reason": why[:300]},
                dedupe_key=f"batchdirect:{item.custom_id}",
            )

    def _escalate(self, kind: str, provider: str, detail: str) -> None:
        day = self.store.now().date().isoformat()
        self.store.escalations.raise_(kind, f"{kind}:{provider}:{day}", subject=provider, detail=detail)

    # ------------------------------------------------------------ collecting

    def collect_ended(self, report: BatchPass | None = None) -> BatchPass:
        report = report or BatchPass()
        for provider, batch_id in self.items.in_flight_batches():
            backend = self.backend(provider)
            if backend is None:
                self._escalate(
                    FAILED_KIND,
                    provider,
                    f"batch {batch_id} of provider {provider} cannot be read: the provider is not "
                    "configured any more; its calls wait until it is",
                )
                report.pending += 1
                continue
            try:
                ended = backend.poll(batch_id).ended
            except ProviderError as exc:
                self._escalate(
                    FAILED_KIND, provider, f"batch {batch_id}: its status could not be read ({exc})"
                )
                report.pending += 1
                continue
            if not ended:
                report.pending += 1
                continue
            claimed = self.items.claim_batch(batch_id, self.claimer)
            if claimed:
                self._collect(backend, batch_id, claimed, report)
        return report

    def _collect(
        self, backend: BatchBackend, batch_id: str, claimed: list[BatchItem], report: BatchPass
    ) -> None:
        catalog = self.services.catalog.skills
        by_id = {i.custom_id: i for i in claimed}
        requests = {i.custom_id: request_from_json(i.request) for i in claimed}

        def validate(
            request: SkillRequest, reply: ProviderReply
        ) -> tuple[SkillOutput[Any] | None, DeadLetterReason | None]:
            skill = catalog.get(request.skill)
            if skill is None:  # gone since it was queued: settled as stale below, never checked
                return None, DeadLetterReason(kind="contract", detail=f"skill {request.skill} is gone")
            return parse_reply(skill, reply, request.sources)

        calls = [BatchCall(cid, requests[cid]) for cid in by_id]
        try:
            outcomes = collect(backend, batch_id, calls, self.services.prices, validate)
        except ProviderError as exc:  # the results could not be read: the claim lapses, read again
            self._escalate(FAILED_KIND, backend.name, f"batch {batch_id}: results unreadable ({exc})")
            return
        for outcome in outcomes:
            item = by_id[outcome.custom_id]
            status = self._settle(backend, batch_id, item, requests[item.custom_id], outcome, catalog)
            report.settled[status] += 1
        try:
            backend.discard(batch_id)
        except ProviderError as exc:  # collected all the same; the copy at the provider is not gone
            self._escalate(
                FAILED_KIND,
                backend.name,
                f"batch {batch_id}: collected, but its copy at the provider could not be deleted ({exc}); "
                "it holds prompts (sources, contacts) until the provider's retention ends: delete it there",
            )

    def _settle(
        self,
        backend: BatchBackend,
        batch_id: str,
        item: BatchItem,
        request: SkillRequest,
        outcome: BatchOutcome,
        catalog: Mapping[str, Skill],
    ) -> str:
        reply, failure = outcome.reply, outcome.failure
        if reply is not None:  # a result was produced: paid for, at the batch price, valid or not
            self.store.spend.record(
                day=self.store.now().date(),
                group=item.group_name,
                provider=reply.provider,
                model=reply.model,
                usage=reply.usage,
                cost_usd=outcome.cost_usd,
            )
        route = [
            {
                "provider": backend.name,
                "model": reply.model if reply is not None else backend.model,
                "outcome": "ok" if outcome.output is not None else (failure.kind if failure else "failed"),
                "latency_ms": 0,
                "batch_id": batch_id,
            }
        ]
        skill = catalog.get(item.skill)
        if skill is None or skill.code_version != item.code_version:
            # The skill changed while the batch ran: this answer is to an old prompt. The run that
            # next meets the prospect queues (or makes) the current call.
            self.items.settle(item.id, self.claimer, STALE, "the skill changed while its batch ran")
            return STALE
        runner = self.services.runner
        if outcome.output is not None and reply is not None:
            runner.record_result(
                skill,
                subject=item.subject,
                digest=item.input_hash,
                output=outcome.output,
                reply=reply,
                request=request,
                attempt=item.attempts,
                cost=outcome.cost_usd,
                route=route,
                extra={"batch_id": batch_id},
            )
            self.items.settle(item.id, self.claimer, DONE)
            return DONE
        assert failure is not None
        if item.attempts < skill.spec.max_attempts:
            self.items.settle(item.id, self.claimer, QUEUED, f"{failure.kind}: {failure.detail}")
            return "retry"
        runner.dead_letter(
            skill,
            subject=item.subject,
            digest=item.input_hash,
            failure=failure,
            raw_output=reply.text if reply is not None else None,
            attempts=item.attempts,
            route=route,
            prospect_id=item.prospect_id,
            reply=reply,
        )
        self.items.settle(item.id, self.claimer, DEAD, f"{failure.kind}: {failure.detail}")
        return DEAD

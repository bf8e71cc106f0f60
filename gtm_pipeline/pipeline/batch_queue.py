"""Deferred skill calls through the providers' batch APIs: submit the queue, collect what ended.

A run in deferred mode (``SkillRunner(batch=True)``, a backfill tagged ``gtm/batch=1``) queues the
calls of ``batch: true`` groups in ``skill_batch_items`` instead of calling. A pass here (the
``skill_batches`` sensor, or ``bench/cost.py``) then:

* **submits** each provider's queued items as one batch (Anthropic Message Batches at half price;
  OpenAI's ``/v1/batches`` where the host has it). A host without a batch API
  (:class:`BatchUnsupported`) gets its items handed back to direct calls, escalated and journaled
  per item: the run that next meets the call calls it directly. A create whose answer was lost
  (timeout, connection, 5xx: the batch may exist) is never sent again: its items are held
  (``submit_unknown``) and escalated; any other submission failure puts the items back in the
  queue, escalated (once a day per provider). Each item's cost is estimated before it goes out and
  only what fits in its group's daily cap is submitted (the rest stays queued, journaled and
  escalated as a direct call over the cap).
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
once (two sensor ticks, two processes) submit and collect each item once. Before a result is
recorded the item is read again: erased meanwhile, the result is dropped (its spend is kept: it
was paid, and holds nothing personal); already answered by a direct call, it is not journaled twice.
A pass stops at its time budget (a sensor tick is 60 s at most) and leaves the rest to the next.
"""

from __future__ import annotations

import json
import time
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
from gtm_pipeline.providers.pricing import Price
from gtm_pipeline.skills import waits
from gtm_pipeline.skills.catalog import Skill
from gtm_pipeline.skills.runner import parse_reply
from gtm_pipeline.store import Store
from gtm_pipeline.store.claims import claimer as new_claimer
from gtm_pipeline.store.skill_batches import DEAD, DONE, QUEUED, STALE, BatchItem, SkillBatches

# Items per submitted batch (Anthropic takes 100,000 or 256 MB; OpenAI 50,000 lines or 200 MB): a
# smaller batch is collected sooner, and one tick's submission stays one short request.
MAX_ITEMS_PER_BATCH = 2000
# Escalation kinds (``store.escalations.KINDS``): calls handed back to direct calls because the host
# has no batch API; a batch that could not be submitted, polled or read (its calls wait).
UNSUPPORTED_KIND = "batch_unsupported"
FAILED_KIND = "batch_failed"
# What a collected item became besides done / dead / retry / stale (``BatchPass.settled``): its
# prospect was erased while the batch ran (the answer dropped), or a direct call answered it first.
ERASED, DUPLICATE = "erased", "duplicate"
# The creates whose failure says nothing of whether the batch exists (the answer may be lost):
# never re-submitted, held for the operator (``submit_unknown``).
AMBIGUOUS_KINDS = frozenset({"timeout", "connection", "server_error", "overloaded"})
# A pass's share of a sensor tick (Dagster gives a sensor 60 s): past it no batch more is submitted
# or collected, and what was claimed is released for the next tick.
PASS_BUDGET_S = 20.0


@dataclass
class BatchPass:
    """What one pass did, for the sensor's log and the tests (counts only: no personal data)."""

    submitted: dict[str, int] = field(default_factory=dict)  # batch id -> items
    direct: int = 0  # handed back to direct calls
    released: int = 0  # a failed submission: back in the queue
    unknown: int = 0  # a create whose answer was lost: held (submit_unknown) for the operator
    capped: int = 0  # over their group's daily cap: left in the queue
    pending: int = 0  # batches still running at the provider
    settled: Counter[str] = field(default_factory=Counter)  # done / dead / queued (retry) / stale

    def summary(self) -> str:
        parts = [f"submitted {sum(self.submitted.values())} item(s) in {len(self.submitted)} batch(es)"]
        if self.direct:
            parts.append(f"{self.direct} handed to direct calls")
        if self.released:
            parts.append(f"{self.released} back in the queue")
        if self.unknown:
            parts.append(f"{self.unknown} held: their batch create got no answer")
        if self.capped:
            parts.append(f"{self.capped} wait for their group's daily cap")
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

    def run_pass(self, budget_s: float = PASS_BUDGET_S) -> BatchPass:
        """Collect what ended, then submit what waits (a retried item goes out in this pass), for
        at most about ``budget_s`` seconds (a monotonic duration, not the time of day): the rest is
        left for the next pass."""
        report = BatchPass()
        deadline = _monotonic() + budget_s
        self.collect_ended(report, deadline=deadline)
        self.submit_queued(report, deadline=deadline)
        return report

    def backend(self, provider: str) -> BatchBackend | None:
        if provider not in self._backends:
            configured = self.services.router.providers.get(provider)
            self._backends[provider] = batch_backend(configured) if configured is not None else None
        return self._backends[provider]

    # ------------------------------------------------------------ submitting

    def submit_queued(self, report: BatchPass | None = None, *, deadline: float | None = None) -> BatchPass:
        report = report or BatchPass()
        for provider in self.items.providers_queued():
            while not _past(deadline):
                claimed = self.items.claim_queued(provider, self.claimer, limit=MAX_ITEMS_PER_BATCH)
                if not claimed:
                    break
                if not self._submit(provider, claimed, report):
                    break
        return report

    def _submit(self, provider: str, claimed: list[BatchItem], report: BatchPass) -> bool:
        """One batch of ``provider``'s claimed items; False when the provider should not be tried
        again in this pass."""
        backend = self.backend(provider)
        if backend is None:
            why = f"provider {provider} is not configured with a batch API any more"
            self._hand_to_direct(provider, claimed, why)
            report.direct += len(claimed)
            return True
        estimates = {i.id: self._estimate(backend, i) for i in claimed}
        claimed, over_cap = self._within_caps(claimed, estimates)
        if over_cap:
            self.items.release([i.id for i in over_cap], self.claimer, "the group's daily spend cap")
            report.capped += len(over_cap)
        if not claimed:
            return False
        ids = [i.id for i in claimed]
        calls = [BatchCall(i.custom_id, request_from_json(i.request)) for i in claimed]
        try:
            batch_id = backend.submit(calls)
        except BatchUnsupported as exc:
            self._hand_to_direct(provider, claimed, str(exc))
            report.direct += len(claimed)
            return True
        except ProviderError as exc:
            if exc.kind in AMBIGUOUS_KINDS:
                # The batch may exist (the create's answer was lost): submitting again could pay twice
                # and leave an orphan batch holding prompts at the provider. Held for the operator.
                held = self.items.mark_submit_unknown(ids, self.claimer, str(exc))
                self._escalate(
                    FAILED_KIND,
                    provider,
                    f"provider {provider}: the create of a batch of {len(ids)} call(s) got no answer "
                    f"({exc}); it may exist at the provider. {held} call(s) held as submit_unknown, "
                    "not sent again: check the provider's batches, then requeue them "
                    "(SkillBatches.requeue_unknown)",
                    key="unknown",
                )
                report.unknown += held
                return False
            self.items.release(ids, self.claimer, str(exc))
            self._escalate(
                FAILED_KIND,
                provider,
                f"provider {provider}: a batch of {len(ids)} call(s) could not be submitted ({exc}); "
                "they stay queued and are submitted again on the next tick",
            )
            report.released += len(ids)
            return False
        marked = self.items.mark_submitted(ids, self.claimer, batch_id, {i: estimates[i] for i in ids})
        report.submitted[batch_id] = marked
        if marked < len(ids):
            # Our claim was taken over meanwhile (a lease ran out): some calls may go out twice.
            self._escalate(
                FAILED_KIND,
                provider,
                f"batch {batch_id} of provider {provider}: {len(ids)} call(s) sent, only {marked} recorded "
                "as in it (the pass's claim was taken over); the others may be submitted twice: "
                "cancel the duplicate at the provider",
                key=batch_id,
            )
        return True

    def _estimate(self, backend: BatchBackend, item: BatchItem) -> float:
        """A call's cost before it is made, for the cap: its stored request's characters / 4 as input
        tokens, the request's ``max_tokens`` as output, at the batch price (an upper bound)."""
        prices = self.services.prices.prices.get(backend.model, Price())
        input_tokens = len(json.dumps(item.request)) / 4
        max_tokens = int(getattr(getattr(backend, "config", None), "max_tokens", 4096))
        dollars = (input_tokens * prices.input + max_tokens * prices.output) / 1_000_000
        return round(dollars * prices.batch_discount, 8)

    def _within_caps(
        self, claimed: list[BatchItem], estimates: dict[int, float]
    ) -> tuple[list[BatchItem], list[BatchItem]]:
        """The claimed items that fit in their group's daily cap (today's spend, plus what is already
        submitted and not collected, plus these, in order), and the rest: those stay queued, and the
        operator and each call's journal are told as for a direct call over the cap."""
        groups = {skill.group.spec.name: skill.group.spec for skill in self.services.catalog.skills.values()}
        today = self.store.now().date()
        left: dict[str, float] = {}
        fits, over = [], []
        for item in claimed:
            spec = groups.get(item.group_name)
            cap = spec.daily_spend_cap_usd if spec is not None else None
            if cap is None:
                fits.append(item)
                continue
            if item.group_name not in left:
                used = self.store.spend.on(today, item.group_name) + self.items.committed_usd(item.group_name)
                left[item.group_name] = cap - used
            if estimates[item.id] <= left[item.group_name]:
                left[item.group_name] -= estimates[item.id]
                fits.append(item)
            else:
                over.append(item)
        for item in over:
            waits.spend_cap_wait(
                self.store,
                group=item.group_name,
                cap=groups[item.group_name].daily_spend_cap_usd,
                subject=item.subject,
                digest=item.input_hash,
                day=today,
            )
        return fits, over

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
            waits.batch_direct(
                self.store,
                group=item.group_name,
                provider=provider,
                subject=item.subject,
                custom_id=item.custom_id,
                reason=why,
            )

    def _escalate(self, kind: str, provider: str, detail: str, *, key: str | None = None) -> None:
        """Once a day per provider (and ``key``: a batch, a kind of failure that must not hide
        behind an earlier one of the day)."""
        day = self.store.now().date().isoformat()
        name = f"{kind}:{provider}:{day}" + (f":{key}" if key else "")
        self.store.escalations.raise_(kind, name, subject=provider, detail=detail)

    # ------------------------------------------------------------ collecting

    def collect_ended(self, report: BatchPass | None = None, *, deadline: float | None = None) -> BatchPass:
        report = report or BatchPass()
        for provider, batch_id in self.items.in_flight_batches():
            if _past(deadline):
                report.pending += 1
                continue
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
                self._collect(backend, batch_id, claimed, report, deadline)
        return report

    def _collect(
        self,
        backend: BatchBackend,
        batch_id: str,
        claimed: list[BatchItem],
        report: BatchPass,
        deadline: float | None = None,
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
        for number, outcome in enumerate(outcomes):
            if _past(deadline):  # the rest back to submitted: the next pass reads the batch again
                left = [by_id[o.custom_id].id for o in outcomes[number:]]
                self.items.release_collecting(left, self.claimer)
                report.pending += 1
                return
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
            # (group, provider, model, tokens, dollars: nothing personal, so kept even after an erasure)
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
        if self.items.get(item.custom_id) is None:
            # Erased while its batch ran (the erasure deletes the prospect's rows): the answer quotes
            # the prospect's sources and contact, so it is dropped, never written after the erasure.
            return ERASED
        if outcome.output is not None and reply is not None:
            if runner.store.journal.recorded_skill_result(
                f"skill:{skill.code_version}:{item.subject}:{item.input_hash}:"
            ):
                # A direct run already produced this call's result: the batch's answer was paid for
                # (its spend is above) but is not journaled as a second result.
                self.items.settle(item.id, self.claimer, DONE, "already answered by a direct call")
                return DUPLICATE
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


def _monotonic() -> float:
    """Seconds for the pass's budget: a duration, never the time of day (the clock is injected)."""
    return time.monotonic()


def _past(deadline: float | None) -> bool:
    return deadline is not None and _monotonic() >= deadline

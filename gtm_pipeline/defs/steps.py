"""Running a pipeline step over the prospect partitions of a run, with its metadata.

Each prospect asset handles every partition of its run (a run may carry one prospect or a range of
them, see ``PROSPECT_BACKFILL``), calls the step for each, and records per-partition metadata:
skill, version, group, provider, model, tokens, hashes, journal ids. Never a name or an email:
erasure must not require rewriting Dagster's event log.
"""

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import dagster as dg

from gtm_pipeline.defs.names import batch_requested
from gtm_pipeline.pipeline.batch import run_many
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.pipeline.step_report import StepReport

FALLBACK_TAG = "gtm/fallback_results"  # a run some of whose results came from a fallback provider


class PartitionMetadata:
    """Per-partition metadata of the run's materializations, at a cost per partition that does not
    grow with the number of prospects.

    ``context.add_asset_metadata(..., partition_key=k)`` checks that ``k`` is in the run's range by
    listing every key of the dynamic partitions definition, on each call: 1.5 / 3.5 / 13.6 ms per
    call at 200 / 2,000 / 8,000 prospects, so past some tens of thousands a run's bookkeeping
    falls behind the provider's rate. Here the run's keys are read once, each key is checked
    against that set (the same refusal), and the metadata goes into the accumulator that
    ``add_asset_metadata`` itself writes to, from which Dagster builds each partition's
    materialization. That accumulator is internal to Dagster 1.13 (pinned below 1.14); should it
    move, the public call is used instead, slower but the same metadata, and the run log says so.
    """

    def __init__(self, context: dg.AssetExecutionContext) -> None:
        self._context = context
        self._keys = frozenset(context.partition_keys)
        step = getattr(context.op_execution_context, "_step_execution_context", None)
        self._step = step if hasattr(step, "_metadata_accumulator") else None
        if self._step is None:
            context.log.warning(
                "Dagster's metadata accumulator moved: per-partition metadata takes the slow path"
            )

    def add(self, partition_key: str, metadata: Mapping[str, Any]) -> None:
        if partition_key not in self._keys:
            raise dg.DagsterInvariantViolationError(
                f"Attempted to add metadata for partition key '{partition_key}' that is not being targeted."
            )
        if self._step is None:
            self._context.add_asset_metadata(metadata, partition_key=partition_key)
            return
        self._step._metadata_accumulator = self._step._metadata_accumulator.with_additional_asset_metadata(
            asset_key=self._context.asset_key, partition_key=partition_key, metadata=metadata
        )


def run_step(
    context: dg.AssetExecutionContext,
    step: Callable[..., StepReport],
    services: Services,
) -> dg.MaterializeResult:
    statuses: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    providers: Counter[str] = Counter()
    fallbacks = 0
    per_partition = PartitionMetadata(context)
    # A run tagged gtm/batch=1 queues the calls of batch groups for the batch APIs (defs/batches.py).
    services.runner.batch = batch_requested(context.run.tags)
    if services.runner.batch:
        # This run is the one the skill_batches sensor requested for its prospects' settled calls
        # (or an operator's batch run, which uses them as well): marked now, when it really runs.
        services.store.skill_batches.mark_run_started(list(context.partition_keys))
    # Prospects run concurrently (LLM calls are I/O); metadata is recorded here, in the run's thread.
    for prospect_id, report in run_many(step, services, context.partition_keys, run_id=context.run.run_id):
        statuses[report.status] += 1
        for key in ("input_tokens", "output_tokens", "cache_read_tokens"):
            totals[key] += int(report.provenance.get(key, 0))
        totals["cost_micro_usd"] += round(1_000_000 * float(report.provenance.get("cost_usd", 0.0)))
        if report.provenance.get("provider") and report.status != "unchanged":
            providers[str(report.provenance["provider"])] += 1  # whatever the step then made of it
            fallbacks += bool(report.provenance.get("fallback"))
        per_partition.add(prospect_id, report.metadata())
    context.log.info(f"{context.asset_key.to_user_string()}: {dict(statuses)}")
    run_totals: dict[str, int | str] = {f"run_{key}": value for key, value in totals.items()}
    run_totals["run_statuses"] = ", ".join(f"{k}={v}" for k, v in sorted(statuses.items()))
    run_totals["run_providers"] = ", ".join(f"{k}={v}" for k, v in sorted(providers.items()))
    run_totals["run_fallbacks"] = fallbacks
    if fallbacks:  # marked on the run itself, so the runs list shows it (and the operator is escalated)
        context.log.warning(f"{fallbacks} result(s) came from a fallback provider: {dict(providers)}")
        context.instance.add_run_tags(context.run.run_id, {FALLBACK_TAG: str(fallbacks)})
    return dg.MaterializeResult(metadata=run_totals)

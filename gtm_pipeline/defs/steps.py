"""Running a pipeline step over the prospect partitions of a run, with its metadata.

Each prospect asset handles every partition of its run (a run may carry one prospect or a range of
them, see ``PROSPECT_BACKFILL``), calls the step for each, and records per-partition metadata:
skill, version, group, provider, model, tokens, hashes, journal ids. Never a name or an email:
erasure must not require rewriting Dagster's event log.
"""

from collections import Counter
from collections.abc import Callable

import dagster as dg

from gtm_pipeline.pipeline.batch import run_many
from gtm_pipeline.pipeline.services import Services
from gtm_pipeline.pipeline.step_report import StepReport

FALLBACK_TAG = "gtm/fallback_results"  # a run some of whose results came from a fallback provider


def run_step(
    context: dg.AssetExecutionContext,
    step: Callable[..., StepReport],
    services: Services,
) -> dg.MaterializeResult:
    statuses: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    providers: Counter[str] = Counter()
    fallbacks = 0
    # Prospects run concurrently (LLM calls are I/O); metadata is recorded here, in the run's thread.
    for prospect_id, report in run_many(step, services, context.partition_keys, run_id=context.run.run_id):
        statuses[report.status] += 1
        for key in ("input_tokens", "output_tokens", "cache_read_tokens"):
            totals[key] += int(report.provenance.get(key, 0))
        totals["cost_micro_usd"] += round(1_000_000 * float(report.provenance.get("cost_usd", 0.0)))
        if report.provenance.get("provider") and report.status != "unchanged":
            providers[str(report.provenance["provider"])] += 1  # whatever the step then made of it
            fallbacks += bool(report.provenance.get("fallback"))
        context.add_asset_metadata(report.metadata(), partition_key=prospect_id)
    context.log.info(f"{context.asset_key.to_user_string()}: {dict(statuses)}")
    run_totals: dict[str, int | str] = {f"run_{key}": value for key, value in totals.items()}
    run_totals["run_statuses"] = ", ".join(f"{k}={v}" for k, v in sorted(statuses.items()))
    run_totals["run_providers"] = ", ".join(f"{k}={v}" for k, v in sorted(providers.items()))
    run_totals["run_fallbacks"] = fallbacks
    if fallbacks:  # marked on the run itself, so the runs list shows it (and the operator is escalated)
        context.log.warning(f"{fallbacks} result(s) came from a fallback provider: {dict(providers)}")
        context.instance.add_run_tags(context.run.run_id, {FALLBACK_TAG: str(fallbacks)})
    return dg.MaterializeResult(metadata=run_totals)

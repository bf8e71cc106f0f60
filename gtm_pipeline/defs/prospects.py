"""Prospect-partitioned assets: raw_sources -> profile -> draft, and profile -> context_pack.

Each asset handles every partition of its run (a run may carry one prospect or a range
of them, see ``PROSPECT_BACKFILL``), calls the step for each, and records per-partition
metadata: skill, version, group, provider, model, tokens, hashes, journal ids. Never a
name or an email: erasure must not require rewriting Dagster's event log.
"""

from collections import Counter
from collections.abc import Callable

import dagster as dg

from gtm_pipeline.defs.catalog import rubrics_version, skill_catalog
from gtm_pipeline.defs.discovery import discovery_keys
from gtm_pipeline.defs.partitions import PROSPECT_BACKFILL, prospect_partitions
from gtm_pipeline.defs.pools import pool_for
from gtm_pipeline.defs.resources import GtmResource
from gtm_pipeline.pipeline.audit import journal_anchor
from gtm_pipeline.pipeline.batch import run_many
from gtm_pipeline.pipeline.draft import CONTEXT_PACK_SKILL, DRAFT_SKILL, build_context_pack, draft_first_touch
from gtm_pipeline.pipeline.reports import StepReport
from gtm_pipeline.pipeline.research import AUGMENT_SKILL, augment, fetch_sources
from gtm_pipeline.pipeline.services import Services

FETCH_VERSION = "corpus-fetch@1"


def _run_step(
    context: dg.AssetExecutionContext,
    step: Callable[..., StepReport],
    services: Services,
) -> dg.MaterializeResult:
    statuses: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    # Prospects run concurrently (LLM calls are I/O); metadata is recorded here, in the run's thread.
    for prospect_id, report in run_many(step, services, context.partition_keys, run_id=context.run.run_id):
        statuses[report.status] += 1
        for key in ("input_tokens", "output_tokens", "cache_read_tokens"):
            totals[key] += int(report.provenance.get(key, 0))
        totals["cost_micro_usd"] += round(1_000_000 * float(report.provenance.get("cost_usd", 0.0)))
        context.add_asset_metadata(report.metadata(), partition_key=prospect_id)
    context.log.info(f"{context.asset_key.to_user_string()}: {dict(statuses)}")
    run_totals: dict[str, int | str] = {f"run_{key}": value for key, value in totals.items()}
    run_totals["run_statuses"] = ", ".join(f"{k}={v}" for k, v in sorted(statuses.items()))
    return dg.MaterializeResult(metadata=run_totals)


@dg.asset(
    partitions_def=prospect_partitions,
    backfill_policy=PROSPECT_BACKFILL,
    deps=discovery_keys,
    group_name="research",
    code_version=FETCH_VERSION,
    kinds={"sqlite"},
    description="Every source fetched for the prospect's company, stored with its content hash.",
)
def raw_sources(context: dg.AssetExecutionContext, gtm: GtmResource) -> dg.MaterializeResult:
    for prospect_id in context.partition_keys:
        report = fetch_sources(gtm.services, prospect_id, run_id=context.run.run_id)
        context.add_asset_metadata(report.metadata(), partition_key=prospect_id)
    return dg.MaterializeResult()


@dg.asset(
    partitions_def=prospect_partitions,
    backfill_policy=PROSPECT_BACKFILL,
    deps=[raw_sources],
    group_name="research",
    code_version=f"{skill_catalog().skill(AUGMENT_SKILL).code_version}+rubrics:{rubrics_version()}",
    pool=pool_for(AUGMENT_SKILL),
    kinds={"sqlite"},
    description="Structured profile and fit judgment (augment-profile skill), then the qualification rule.",
)
def profile(context: dg.AssetExecutionContext, gtm: GtmResource) -> dg.MaterializeResult:
    return _run_step(context, augment, gtm.services)


@dg.asset(
    partitions_def=prospect_partitions,
    backfill_policy=PROSPECT_BACKFILL,
    deps=[profile],
    group_name="outreach",
    code_version=skill_catalog().skill(DRAFT_SKILL).code_version,
    pool=pool_for(DRAFT_SKILL),
    kinds={"sqlite"},
    description="First-touch email draft (draft-first-touch skill), routed by the group's mode.",
)
def draft(context: dg.AssetExecutionContext, gtm: GtmResource) -> dg.MaterializeResult:
    return _run_step(context, draft_first_touch, gtm.services)


@dg.asset(
    partitions_def=prospect_partitions,
    backfill_policy=PROSPECT_BACKFILL,
    deps=[profile],
    group_name="outreach",
    code_version=skill_catalog().skill(CONTEXT_PACK_SKILL).code_version,
    pool=pool_for(CONTEXT_PACK_SKILL),
    kinds={"sqlite"},
    description="Context pack for a manual LinkedIn touch (context-pack skill).",
)
def context_pack(context: dg.AssetExecutionContext, gtm: GtmResource) -> dg.MaterializeResult:
    return _run_step(context, build_context_pack, gtm.services)


@dg.asset(
    partitions_def=prospect_partitions,
    backfill_policy=PROSPECT_BACKFILL,
    deps=[draft, context_pack],
    group_name="audit",
    code_version="journal@1",
    kinds={"sqlite"},
    description=(
        "The prospect's hash-chained journal, anchored: each materialization records the chain's head, "
        "so an edit of the journal after the fact is detectable (`gtm replay --check`)."
    ),
)
def journal(context: dg.AssetExecutionContext, gtm: GtmResource) -> dg.MaterializeResult:
    store = gtm.services.store
    for prospect_id in context.partition_keys:
        prospect = store.get_prospect(prospect_id)
        metadata = {"prospect_id": prospect_id, "state": prospect.state.value if prospect else "unknown"}
        context.add_asset_metadata(
            {**metadata, **journal_anchor(store.journal_head(prospect_id))}, partition_key=prospect_id
        )
    return dg.MaterializeResult()


PROSPECT_ASSETS = [raw_sources, profile, draft, context_pack, journal]


def journal_anchor_event(services: Services, prospect_id: str, **metadata: str) -> dg.AssetMaterialization:
    """A ``journal`` materialization for one partition, from an op that moved the prospect outside
    the asset graph (time rules, the send step): the chain's new head is anchored all the same."""
    return dg.AssetMaterialization(
        asset_key="journal",
        partition=prospect_id,
        metadata={
            "prospect_id": prospect_id,
            **metadata,
            **journal_anchor(services.store.journal_head(prospect_id)),
        },
    )

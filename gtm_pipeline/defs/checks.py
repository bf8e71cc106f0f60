"""Blocking contract checks: what a run stored must validate when read back.

The runner validated each result before storing it; these checks re-read what the store
actually holds for the run's prospects and validate it again (pydantic contract, and every
quote against the sources stored for that prospect). A failure blocks the downstream
assets of the run, so a corrupt or tampered profile can never feed a draft.
"""

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

from gtm_pipeline.defs.partitions import PROSPECTS
from gtm_pipeline.defs.prospects import context_pack, draft, profile
from gtm_pipeline.defs.resources import GtmResource
from gtm_pipeline.domain.contracts import FINDING_TYPES, result_model
from gtm_pipeline.domain.sources import evidence_problems
from gtm_pipeline.pipeline.research import stored_sources
from gtm_pipeline.pipeline.services import Services


def run_partition_keys(context: dg.AssetCheckExecutionContext) -> list[str]:
    """The prospect partitions of the current run (one key or a range)."""
    tags = context.run.tags
    if PARTITION_NAME_TAG in tags:
        return [tags[PARTITION_NAME_TAG]]
    if ASSET_PARTITION_RANGE_START_TAG in tags and ASSET_PARTITION_RANGE_END_TAG in tags:
        keys = context.instance.get_dynamic_partitions(PROSPECTS)
        first, last = (
            keys.index(tags[ASSET_PARTITION_RANGE_START_TAG]),
            keys.index(tags[ASSET_PARTITION_RANGE_END_TAG]),
        )
        return keys[first : last + 1]
    return []


def contract_problems(services: Services, prospect_id: str, kind: str) -> list[str]:
    """Problems of the latest stored ``kind`` artifact of a prospect (none stored is fine)."""
    artifact = services.store.latest_artifact(prospect_id, kind)
    if artifact is None or artifact.content is None:
        return []
    finding_name = {
        "profile": "ProfileFinding",
        "draft": "DraftFinding",
        "context_pack": "ContextPackFinding",
    }[kind]
    try:
        result = result_model(FINDING_TYPES[finding_name]).model_validate_json(artifact.content)
    except ValueError as exc:
        return [f"{prospect_id}: {kind} {artifact.id} does not validate: {str(exc)[:300]}"]
    problems = evidence_problems(list(result.evidence), stored_sources(services, prospect_id))
    return [f"{prospect_id}: {kind} {artifact.id}: {p}" for p in problems]


def _check(context: dg.AssetCheckExecutionContext, gtm: GtmResource, kind: str) -> dg.AssetCheckResult:
    keys = run_partition_keys(context)
    problems = [p for key in keys for p in contract_problems(gtm.services, key, kind)]
    return dg.AssetCheckResult(
        passed=not problems,
        metadata={"prospects_checked": len(keys), "problems": dg.MetadataValue.json(problems[:50])},
    )


@dg.asset_check(asset=profile, blocking=True, description="Stored profiles validate against the contract.")
def profile_contract(context: dg.AssetCheckExecutionContext, gtm: GtmResource) -> dg.AssetCheckResult:
    return _check(context, gtm, "profile")


@dg.asset_check(asset=draft, blocking=True, description="Stored drafts validate against the contract.")
def draft_contract(context: dg.AssetCheckExecutionContext, gtm: GtmResource) -> dg.AssetCheckResult:
    return _check(context, gtm, "draft")


@dg.asset_check(
    asset=context_pack, blocking=True, description="Stored context packs validate against the contract."
)
def context_pack_contract(context: dg.AssetCheckExecutionContext, gtm: GtmResource) -> dg.AssetCheckResult:
    return _check(context, gtm, "context_pack")

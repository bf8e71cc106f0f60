"""Blocking contract checks: what a run stored must validate when read back.

The runner validated each result before storing it; these checks re-read what the store actually
holds for the run's prospects and validate it again (pydantic contract, and every quote against the
sources stored for that prospect). A failure blocks the downstream assets of the run, so a corrupt or
tampered profile can never feed a draft. Each stage declares the checks of its own assets with
:func:`contract_check`.
"""

from collections.abc import Callable, Iterator

import dagster as dg

from gtm_pipeline.defs.partitions import prospect_partitions
from gtm_pipeline.defs.resources import GtmResource
from gtm_pipeline.domain.contracts import FINDING_TYPES, result_model
from gtm_pipeline.domain.sources import evidence_problems
from gtm_pipeline.pipeline.research import stored_sources
from gtm_pipeline.pipeline.services import Services

CheckEvent = dg.AssetCheckEvaluation | dg.AssetCheckResult


def contract_problems(services: Services, prospect_id: str, kind: str) -> list[str]:
    """Problems of the latest stored ``kind`` artifact of a prospect (none stored is fine)."""
    artifact = services.store.artifacts.latest(prospect_id, kind)
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


def _check(context: dg.AssetCheckExecutionContext, gtm: GtmResource, kind: str) -> Iterator[CheckEvent]:
    """A run of one partition gets one result, which Dagster files under that partition. A ranged run
    gets one evaluation per prospect partition, so each partition's check shows its own result (the
    check's single result would otherwise leave every partition "planned" and belong to none),
    then the run's summary as the check's result."""
    if context.has_partition_key:
        found = contract_problems(gtm.services, context.partition_key, kind)
        yield dg.AssetCheckResult(
            passed=not found,
            metadata={"prospect_id": context.partition_key, "problems": dg.MetadataValue.json(found[:50])},
        )
        return
    (key,) = context.selected_asset_check_keys
    problems: list[str] = []
    for partition in context.partition_keys:
        found = contract_problems(gtm.services, partition, kind)
        problems += found
        yield dg.AssetCheckEvaluation(
            asset_key=key.asset_key,
            check_name=key.name,
            passed=not found,
            metadata={"prospect_id": partition, "problems": dg.MetadataValue.json(found[:50])},
            partition=partition,
            blocking=True,
        )
    yield dg.AssetCheckResult(
        passed=not problems,
        metadata={
            "prospects_checked": len(context.partition_keys),
            "problems": dg.MetadataValue.json(problems[:50]),
        },
    )


def contract_check(asset: dg.AssetsDefinition, kind: str, name: str) -> dg.AssetChecksDefinition:
    """The blocking, prospect-partitioned contract check of ``asset``'s stored ``kind`` artifacts."""

    def check(context: dg.AssetCheckExecutionContext, gtm: GtmResource) -> Iterator[CheckEvent]:
        yield from _check(context, gtm, kind)

    check.__name__ = name
    decorated: Callable[..., dg.AssetChecksDefinition] = dg.asset_check(
        asset=asset,
        name=name,
        partitions_def=prospect_partitions,
        blocking=True,
        description=f"Stored {kind.replace('_', ' ')}s validate against the contract.",
    )
    # Dagster's stub types a check as returning one AssetCheckResult; at run time a check may yield
    # AssetCheckEvaluations first, which is how a ranged run settles each partition's planned check.
    return decorated(check)

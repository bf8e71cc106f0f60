"""Research, per prospect partition: the raw sources fetched for the company, then the profile
(augment-profile skill and the qualification rule) with its blocking contract check.
"""

import dagster as dg

from gtm_pipeline.defs.contracts import contract_check
from gtm_pipeline.defs.discovery.hypotheses import discovery_keys
from gtm_pipeline.defs.location import rubrics_version, skill_catalog
from gtm_pipeline.defs.partitions import PROSPECT_BACKFILL, prospect_partitions
from gtm_pipeline.defs.pools import pool_for
from gtm_pipeline.defs.resources import GtmResource
from gtm_pipeline.defs.steps import PartitionMetadata, run_step
from gtm_pipeline.pipeline.research import AUGMENT_SKILL, augment, fetch_sources

FETCH_VERSION = "corpus-fetch@1"


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
    per_partition = PartitionMetadata(context)
    for prospect_id in context.partition_keys:
        report = fetch_sources(gtm.services, prospect_id, run_id=context.run.run_id)
        per_partition.add(prospect_id, report.metadata())
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
    return run_step(context, augment, gtm.services)


profile_contract = contract_check(profile, "profile", "profile_contract")

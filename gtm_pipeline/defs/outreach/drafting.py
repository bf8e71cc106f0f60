"""Drafting, per prospect partition: the first touch (draft-first-touch skill, routed by its group's
mode) and the context pack for a manual LinkedIn touch, each with its blocking contract check.
"""

import dagster as dg

from gtm_pipeline.defs.contracts import contract_check
from gtm_pipeline.defs.location import skill_catalog
from gtm_pipeline.defs.partitions import PROSPECT_BACKFILL, prospect_partitions
from gtm_pipeline.defs.pools import pool_for
from gtm_pipeline.defs.research.assets import profile
from gtm_pipeline.defs.resources import GtmResource
from gtm_pipeline.defs.steps import run_step
from gtm_pipeline.pipeline.draft import CONTEXT_PACK_SKILL, DRAFT_SKILL, build_context_pack, draft_first_touch


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
    return run_step(context, draft_first_touch, gtm.services)


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
    return run_step(context, build_context_pack, gtm.services)


draft_contract = contract_check(draft, "draft", "draft_contract")
context_pack_contract = contract_check(context_pack, "context_pack", "context_pack_contract")

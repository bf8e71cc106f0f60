"""The prospect pipeline job: research, drafting and the journal anchor for a set of prospect
partitions (what the new-prospects and follow-up sensors launch, and what a backfill runs).
"""

import dagster as dg

from gtm_pipeline.defs.audit.journal import journal
from gtm_pipeline.defs.outreach.drafting import context_pack, draft
from gtm_pipeline.defs.research.assets import profile, raw_sources

PROSPECT_ASSETS = [raw_sources, profile, draft, context_pack, journal]

prospect_job = dg.define_asset_job(
    "prospect_pipeline_job",
    selection=dg.AssetSelection.assets(*PROSPECT_ASSETS),
    description="Research and drafting for a range of prospect partitions.",
)

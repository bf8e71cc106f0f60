"""The jobs that cross stages, named by asset key so no stage imports another to build them:

* ``prospect_pipeline_job``: research, drafting and the journal anchor for a set of prospect
  partitions (what the new-prospects and follow-up sensors launch, and what a backfill runs);
* ``conversation_job``: a set of prospects' replies and delivery events, then their journal anchors.
"""

import dagster as dg

PROSPECT_ASSETS = ("raw_sources", "profile", "draft", "context_pack", "journal")

prospect_job = dg.define_asset_job(
    "prospect_pipeline_job",
    selection=dg.AssetSelection.assets(*PROSPECT_ASSETS),
    description="Research and drafting for a range of prospect partitions.",
)

conversation_job = dg.define_asset_job(
    "conversation_job",
    selection=dg.AssetSelection.assets("conversation", "journal"),
    description="Replies and delivery events for a set of prospect partitions, then the journal anchors.",
)

"""The jobs that cross stages, named by asset key so no stage imports another to build them:

* ``prospect_pipeline_job``: research, drafting and the journal anchor for a set of prospect
  partitions (what the new-prospects and follow-up sensors launch, and what a backfill runs);
* ``conversation_job``: a set of prospects' replies and delivery events, then their journal anchors.

Both keep Dagster's process per step (the location's default is in process, ``executor.py``): the
draft and the context pack call different model families and run side by side.
"""

import dagster as dg

PROSPECT_ASSETS = ("raw_sources", "profile", "draft", "context_pack", "journal")

prospect_job = dg.define_asset_job(
    "prospect_pipeline_job",
    selection=dg.AssetSelection.assets(*PROSPECT_ASSETS),
    description="Research and drafting for a range of prospect partitions.",
    executor_def=dg.multi_or_in_process_executor,
)

conversation_job = dg.define_asset_job(
    "conversation_job",
    selection=dg.AssetSelection.assets("conversation", "journal"),
    description="Replies and delivery events for a set of prospect partitions, then the journal anchors.",
    executor_def=dg.multi_or_in_process_executor,
)

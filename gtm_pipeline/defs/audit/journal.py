"""The prospect's hash-chained journal, anchored in Dagster's event log.

Each materialization records the chain's head, so an edit of the journal after the fact is
detectable (``gtm replay --check``); ops that move a prospect outside the asset graph (the time
rules, the send step) anchor the new head with :func:`gtm_pipeline.defs.anchors.journal_anchor_event`.
"""

import dagster as dg

from gtm_pipeline.defs.outreach.drafting import context_pack, draft
from gtm_pipeline.defs.partitions import PROSPECT_BACKFILL, prospect_partitions
from gtm_pipeline.defs.resources import GtmResource
from gtm_pipeline.defs.steps import PartitionMetadata
from gtm_pipeline.pipeline.audit import journal_anchor


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
    per_partition = PartitionMetadata(context)
    for prospect_id in context.partition_keys:
        prospect = store.prospects.get(prospect_id)
        metadata = {"prospect_id": prospect_id, "state": prospect.state.value if prospect else "unknown"}
        per_partition.add(prospect_id, {**metadata, **journal_anchor(store.journal.head(prospect_id))})
    return dg.MaterializeResult()

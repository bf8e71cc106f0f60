"""The prospect's hash-chained journal, anchored in Dagster's event log.

Each materialization records the chain's head, so an edit of the journal after the fact is
detectable (``gtm replay --check``); ops that move a prospect outside the asset graph (the time
rules, the send step) anchor the new head with :func:`journal_anchor_event`.
"""

import dagster as dg

from gtm_pipeline.defs.outreach.drafting import context_pack, draft
from gtm_pipeline.defs.partitions import PROSPECT_BACKFILL, prospect_partitions
from gtm_pipeline.defs.resources import GtmResource
from gtm_pipeline.pipeline.audit import journal_anchor
from gtm_pipeline.pipeline.services import Services


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
        prospect = store.prospects.get(prospect_id)
        metadata = {"prospect_id": prospect_id, "state": prospect.state.value if prospect else "unknown"}
        context.add_asset_metadata(
            {**metadata, **journal_anchor(store.journal.head(prospect_id))}, partition_key=prospect_id
        )
    return dg.MaterializeResult()


def journal_anchor_event(services: Services, prospect_id: str, **metadata: str) -> dg.AssetMaterialization:
    """A ``journal`` materialization for one partition, from an op that moved the prospect outside
    the asset graph (time rules, the send step): the chain's new head is anchored all the same."""
    return dg.AssetMaterialization(
        asset_key="journal",
        partition=prospect_id,
        metadata={
            "prospect_id": prospect_id,
            **metadata,
            **journal_anchor(services.store.journal.head(prospect_id)),
        },
    )

"""Anchoring a prospect's journal head in Dagster from an op that moved the prospect outside the
asset graph (the time rules, the send step): a ``journal`` materialization for that partition."""

import dagster as dg

from gtm_pipeline.pipeline.audit import journal_anchor
from gtm_pipeline.pipeline.services import Services


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

"""Prospect partitions: opaque ``p_<hash>`` keys, never names or emails."""

import dagster as dg
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

PROSPECTS = "prospects"
prospect_partitions = dg.DynamicPartitionsDefinition(name=PROSPECTS)

# A backfill (a re-score after a skill change, say) runs many prospects per run, not one
# run per prospect: Dagster's per-run overhead would dominate the LLM time otherwise.
PROSPECT_BACKFILL = dg.BackfillPolicy.multi_run(max_partitions_per_run=500)


def range_run_request(keys: list[str], key: str) -> dg.RunRequest:
    """One run over ``keys`` (in partition order) as a partition range, keyed so a tick is requested once."""
    return dg.RunRequest(
        run_key=f"{key}:{keys[0]}:{keys[-1]}:{len(keys)}",
        tags={ASSET_PARTITION_RANGE_START_TAG: keys[0], ASSET_PARTITION_RANGE_END_TAG: keys[-1]},
    )

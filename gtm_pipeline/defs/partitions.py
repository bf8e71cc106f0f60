"""Prospect partitions: opaque ``p_<hash>`` keys, never names or emails."""

import dagster as dg

PROSPECTS = "prospects"
prospect_partitions = dg.DynamicPartitionsDefinition(name=PROSPECTS)

# A backfill (a re-score after a skill change, say) runs many prospects per run, not one
# run per prospect: Dagster's per-run overhead would dominate the LLM time otherwise.
PROSPECT_BACKFILL = dg.BackfillPolicy.multi_run(max_partitions_per_run=500)

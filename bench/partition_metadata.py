"""Benchmark: what per-partition bookkeeping costs as the number of prospects grows.

A run over a range of ``--run`` prospect partitions, with ``--partitions`` registered, records
~15 metadata entries per partition, as a pipeline step does. Measured per partition: Dagster's
``context.add_asset_metadata(..., partition_key=...)`` (on a sample of the keys, it is slow),
the pipeline's ``PartitionMetadata.add`` (every key), and the whole run (start, metadata, one
materialization event per partition; the sampled calls left out) divided by the partitions it
covers. Prints; asserts only that every partition got its metadata.

    python bench/partition_metadata.py --partitions 2000 20000
"""

import argparse
import time

import dagster as dg

from gtm_pipeline.defs.partitions import PROSPECTS, RANGE_END_TAG, RANGE_START_TAG, prospect_partitions
from gtm_pipeline.defs.steps import PartitionMetadata
from gtm_pipeline.domain.ids import prospect_id


def metadata(key: str) -> dict[str, str | int]:
    """About what a step records per prospect (opaque ids and hashes only)."""
    return {
        "prospect_id": key,
        "skill": "augment-profile",
        "skill_version": "1.0.0",
        "group": "research-bulk",
        "provider": "openai",
        "model": "twin-model",
        "input_tokens": 812,
        "output_tokens": 240,
        "cache_read_tokens": 0,
        "cost_usd_micro": 91,
        "input_hash": "sha256:" + "0" * 16,
        "output_hash": "sha256:" + "1" * 16,
        "journal_ids": "j_1, j_2",
        "status": "done",
        "attempt": 1,
    }


def measure(partitions: int, run: int, sample: int) -> dict[str, float]:
    keys = [prospect_id(f"bench-{i}.example") for i in range(partitions)]
    chunk = keys[-run:]  # new prospects are registered last: a backfill's last run
    timings: dict[str, float] = {}

    @dg.asset(partitions_def=prospect_partitions, name="bookkeeping")
    def bookkeeping(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        started = time.perf_counter()
        for key in chunk[:sample]:
            context.add_asset_metadata(metadata(key), partition_key=key)
        timings["dagster"] = (time.perf_counter() - started) / sample
        started = time.perf_counter()
        recorder = PartitionMetadata(context)
        for key in chunk:
            recorder.add(key, metadata(key))
        timings["ours"] = (time.perf_counter() - started) / len(chunk)
        return dg.MaterializeResult()

    quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(PROSPECTS, keys)
        started = time.perf_counter()
        result = dg.materialize(
            [bookkeeping],
            instance=instance,
            run_config=quiet,
            tags={RANGE_START_TAG: chunk[0], RANGE_END_TAG: chunk[-1]},
        )
        # the sampled add_asset_metadata calls are left out: they are not part of a real run
        spent = time.perf_counter() - started - sample * timings["dagster"]
        timings["run"] = spent / len(chunk)
        assert result.success
        events = result.asset_materializations_for_node("bookkeeping")
        recorded = {e.partition: e.metadata["prospect_id"].value for e in events}
        assert recorded == {k: k for k in chunk}, "per-partition metadata missing"
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--partitions", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--run", type=int, default=500, help="partitions in the run (the backfill policy's)")
    parser.add_argument("--sample", type=int, default=20, help="keys timed with add_asset_metadata")
    args = parser.parse_args()
    print("partitions   add_asset_metadata   PartitionMetadata.add   whole run per partition")
    for n in args.partitions:
        t = measure(n, args.run, args.sample)
        print(
            f"{n:>10}   {1000 * t['dagster']:15.2f} ms   {1000 * t['ours']:17.3f} ms   "
            f"{1000 * t['run']:19.2f} ms"
        )


if __name__ == "__main__":
    main()

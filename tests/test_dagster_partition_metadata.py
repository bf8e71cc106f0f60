"""Per-partition metadata of a ranged run: every partition gets its own, and recording it does not
re-read the dynamic partitions on each call (its cost must not grow with the number of prospects)."""

from typing import Any

import dagster as dg
import pytest

from gtm_pipeline.defs.partitions import PROSPECTS, RANGE_END_TAG, RANGE_START_TAG, prospect_partitions
from gtm_pipeline.defs.steps import PartitionMetadata
from gtm_pipeline.domain.ids import prospect_id

QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def _run(
    keys: list[str], chunk: list[str], record: Any, monkeypatch: pytest.MonkeyPatch | None = None
) -> tuple[dg.ExecuteInProcessResult, list[int]]:
    """Materialize a range over ``chunk`` (of ``keys`` registered); ``record(recorder, context)``
    adds the metadata. Returns the result and how often the partitions were listed while it did."""
    reads: list[int] = []

    def asset_fn(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        recorder = PartitionMetadata(context)
        counted = [0]
        if monkeypatch is not None:
            listing = dg.DagsterInstance.get_dynamic_partitions

            def counting(self: dg.DagsterInstance, *args: Any, **kwargs: Any) -> Any:
                counted[0] += 1
                return listing(self, *args, **kwargs)

            monkeypatch.setattr(dg.DagsterInstance, "get_dynamic_partitions", counting)
        record(recorder, context)
        if monkeypatch is not None:
            monkeypatch.undo()
        reads.append(counted[0])
        return dg.MaterializeResult(metadata={"run_total": len(chunk)})

    asset = dg.asset(partitions_def=prospect_partitions, name="bookkeeping")(asset_fn)
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(PROSPECTS, keys)
        result = dg.materialize(
            [asset],
            instance=instance,
            run_config=QUIET,
            tags={RANGE_START_TAG: chunk[0], RANGE_END_TAG: chunk[-1]},
            raise_on_error=False,
        )
    return result, reads


def _keys(n: int) -> list[str]:
    return [prospect_id(f"meta-{i}.example") for i in range(n)]


def test_each_partition_of_a_range_gets_its_own_metadata_without_relisting_partitions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keys = _keys(300)
    chunk = keys[100:160]

    def record(recorder: PartitionMetadata, _context: dg.AssetExecutionContext) -> None:
        for key in chunk:
            recorder.add(key, {"prospect_id": key, "n": keys.index(key)})
        recorder.add(chunk[0], {"status": "done"})  # a second call for a key adds to its metadata

    result, reads = _run(keys, chunk, record, monkeypatch)
    assert result.success
    materialized = result.asset_materializations_for_node("bookkeeping")
    events = {e.partition: e.metadata for e in materialized}
    assert len(materialized) == len(chunk) and set(events) == set(chunk)  # one per partition of the range
    for key in chunk:
        assert events[key]["prospect_id"].value == key and events[key]["n"].value == keys.index(key)
        assert events[key]["run_total"].value == len(chunk)  # the run's totals beside them
    assert events[chunk[0]]["status"].value == "done" and "status" not in events[chunk[1]]
    assert reads == [0]  # Dagster's own add_asset_metadata lists every partition on each call


def test_metadata_for_a_partition_outside_the_run_is_refused() -> None:
    keys = _keys(20)
    chunk = keys[5:10]

    def record(recorder: PartitionMetadata, _context: dg.AssetExecutionContext) -> None:
        recorder.add(keys[12], {"prospect_id": keys[12]})  # registered, but not in this run

    result, _reads = _run(keys, chunk, record)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "not being targeted" in str(failure.event_specific_data)

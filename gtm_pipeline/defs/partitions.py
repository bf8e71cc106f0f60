"""Prospect partitions (opaque ``p_<hash>`` keys, never names or emails) and exact run requests.

A run over a partition *range* materializes every partition between its first and last key.
So a sensor that wants a set of prospects must never ask for ``[first wanted, last wanted]``:
:func:`exact_run_requests` splits the set into the maximal runs of keys that are adjacent in
Dagster's partition order, each one a single-key run or a range that holds only wanted keys.
New prospects are registered at the end of the order, so a discovery's batch is one run;
scattered prospects (replies, follow-ups) become several small runs, capped per tick.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import dagster as dg

from gtm_pipeline.store import Store

PROSPECTS = "prospects"
prospect_partitions = dg.DynamicPartitionsDefinition(name=PROSPECTS)

# The most prospects a sensor puts in one run.
MAX_PARTITIONS_PER_RUN = 500
# A backfill (a re-score after a skill change, say) runs many prospects per run, not one run per
# prospect: Dagster's per-run overhead (creating, queueing and starting a run: seconds) would
# dominate the LLM time otherwise. Not too many either: a run writes its per-partition events and
# checks after its calls, so the last run's bookkeeping is the backfill's tail, and the first run
# starts only once its planned events are written. With 100 a run, the runs of a backfill overlap
# (``max_concurrent_runs``): while one starts or writes its events the others call, the provider
# stays busy, and the tail is a hundred partitions' events (bench/backfill.py: 500 a run left
# 25-30 s after the last call, four runs writing 2,000 partitions' events at once).
BACKFILL_PARTITIONS_PER_RUN = 100
PROSPECT_BACKFILL = dg.BackfillPolicy.multi_run(max_partitions_per_run=BACKFILL_PARTITIONS_PER_RUN)

# How long a new prospect may wait for its partition before its sensor tells the operator.
# A row's place in a sensor's walk: a row id, or (commit order, row id) for the inbox.
Position = TypeVar("Position", int, tuple[int, int])
MISSING_PARTITION_GRACE = dt.timedelta(minutes=10)

# Dagster's documented run tags for a run over a partition range.
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


@dataclass(frozen=True)
class ExactRuns:
    """The run requests for a set of prospects, and which of them they cover."""

    requests: list[dg.RunRequest]
    covered: set[str]
    waiting: set[str]  # wanted but not (yet) a registered partition, or past the tick's run cap


def contiguous_groups(ordered: Sequence[str], wanted: Iterable[str], max_size: int) -> list[list[str]]:
    """The wanted keys, grouped into runs of keys adjacent in ``ordered`` (at most ``max_size``
    each), in partition order. Keys not in ``ordered`` are left out."""
    want = set(wanted)
    groups: list[list[str]] = []
    current: list[str] = []
    for key in ordered:
        if key in want and len(current) < max_size:
            current.append(key)
            continue
        if current:
            groups.append(current)
        current = [key] if key in want else []
    if current:
        groups.append(current)
    return groups


def register_partitions(instance: dg.DagsterInstance, prospect_ids: list[str]) -> int:
    """Add the prospect partitions Dagster does not know yet; returns how many were new."""
    known = set(instance.get_dynamic_partitions(PROSPECTS))
    new = [pid for pid in prospect_ids if pid not in known]
    if new:
        instance.add_dynamic_partitions(PROSPECTS, new)
    return len(new)


def run_request(keys: list[str], run_key: str) -> dg.RunRequest:
    """One run over ``keys``, which must be adjacent in partition order."""
    if len(keys) == 1:
        return dg.RunRequest(run_key=run_key, partition_key=keys[0])
    return dg.RunRequest(run_key=run_key, tags={RANGE_START_TAG: keys[0], RANGE_END_TAG: keys[-1]})


def exact_run_requests(
    ordered: Sequence[str],
    wanted: Iterable[str],
    key: str,
    *,
    max_runs: int = 25,
    max_size: int = MAX_PARTITIONS_PER_RUN,
) -> ExactRuns:
    """Runs that touch exactly ``wanted``: never a partition between two wanted keys."""
    want = set(wanted)
    groups = contiguous_groups(ordered, want, max_size)
    chosen = groups[:max_runs]
    requests = [run_request(g, f"{key}:{g[0]}:{g[-1]}:{len(g)}") for g in chosen]
    covered = {k for g in chosen for k in g}
    return ExactRuns(requests, covered, want - covered)


@dataclass(frozen=True)
class Tick(Generic[Position]):
    """What a cursor sensor asks for this tick, and the cursor after it."""

    requests: list[dg.RunRequest]
    cursor: Position
    prospects: int
    unmatched: int  # rows that name no prospect (passed over; shown in `gtm status`)
    blocked_by: str | None = None  # a prospect with no partition yet: everything after it waits


def tick_for_rows(
    rows: Sequence[tuple[Position, str | None]],
    ordered: Sequence[str],
    key: str,
    *,
    cursor: Position,
    max_runs: int = 25,
) -> Tick[Position]:
    """Runs for the longest prefix of ``rows`` (row id, prospect id), in row order, whose prospects are
    registered partitions and fit in about ``max_runs`` exact runs; the cursor moves to that prefix's
    end. Rows that name no prospect are passed over.

    Everything after the prefix waits for the next tick, so a cursor never moves past a prospect
    that was not requested, and a prospect is never requested twice. (A group longer than
    ``MAX_PARTITIONS_PER_RUN`` is split, which can add runs beyond the cap: never keys.)
    """
    position = {k: i for i, k in enumerate(ordered)}
    wanted: set[int] = set()
    groups = 0
    end = cursor
    unmatched = 0
    blocked_by = None
    for row, prospect in rows:
        if prospect is None:
            unmatched += 1
            end = row
            continue
        at = position.get(prospect)
        if at is None:
            blocked_by = prospect  # discovery stores the prospect before it registers the partition
            break
        if at not in wanted:
            # Adding a key joins its neighbours' groups or starts a new one.
            change = 1 - (at - 1 in wanted) - (at + 1 in wanted)
            if groups + change > max_runs:
                break
            wanted.add(at)
            groups += change
        end = row
    keys = {ordered[i] for i in wanted}
    # The rows in the run key: the same prospect due again later (a second follow-up) is a new run,
    # while a tick evaluated twice over the same rows is requested once.
    scope = f"{key}@{position_text(rows[0][0])}-{position_text(end)}" if rows else key
    runs = exact_run_requests(ordered, keys, scope, max_runs=len(keys) or 1)
    return Tick(
        requests=runs.requests, cursor=end, prospects=len(keys), unmatched=unmatched, blocked_by=blocked_by
    )


def report_blocked(store: Store, sensor: str, tick: Tick) -> None:
    """A prospect that has no partition holds its sensor's cursor: usually for one tick (discovery
    registers partitions right after it stores prospects); if it stays, the operator must see it."""
    if tick.blocked_by is None:
        return
    prospect = store.prospects.get(tick.blocked_by)
    if prospect is not None and store.now() - prospect.discovered_at < MISSING_PARTITION_GRACE:
        return  # discovery is registering it right now
    store.escalations.raise_(
        "missing_partition",
        f"missing_partition:{sensor}:{tick.blocked_by}",
        subject=tick.blocked_by,
        detail=f"{sensor} waits: prospect {tick.blocked_by} has no Dagster partition yet; the next "
        "discovery run registers it (gtm demo, or materialize its hypothesis' discovery asset)",
    )


def position_text(position: int | tuple[int, int]) -> str:
    """A row position as a cursor (and in run keys): a row id, or ``order.id`` where the rows'
    commit order is not their id order (the inbox on Postgres, ``Inbox.events_after``)."""
    if isinstance(position, tuple):
        order, row = position
        return f"{order}.{row}" if order else str(row)
    return str(position)


def position_cursor(value: str | None) -> tuple[int, int]:
    """:func:`position_text` read back. A plain row id (every cursor before commit order was kept)
    is ``(0, id)``: rows stored before migration 0017 have commit order 0, so it keeps its place."""
    if not value:
        return 0, 0
    order, dot, row = value.partition(".")
    if not dot:
        return 0, row_cursor(value)[0]
    try:
        return int(order), int(row)
    except ValueError:  # not ours: start over, as row_cursor does (the runs are idempotent)
        return 0, 0


def row_cursor(value: str | None) -> tuple[int, bool]:
    """A sensor's cursor as the last row it handled, and whether it was in an older format.

    Before cursors were one integer they listed every prospect id requested; such a cursor is
    read as 0 (start over): the prospects still waiting are requested again, and the steps
    they run are idempotent (memoized skill calls, one transition per event), so nothing is
    doubled, while a prospect the old cursor never requested is never skipped.
    """
    if not value:
        return 0, False
    try:
        return int(value), False
    except ValueError:
        return 0, True

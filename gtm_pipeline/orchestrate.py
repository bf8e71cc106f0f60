"""Running the Dagster graph in-process on the local instance (what ``gtm demo`` does).

The demo runs the same jobs the schedule and the sensor launch in production, on the
persistent instance under ``$GTM_HOME/dagster``, so ``dagster dev`` afterwards shows every
run, asset, partition and check the demo produced. Prospect work runs as partition
ranges (one run per 500 prospects), never one run per prospect.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg

from gtm_pipeline.config import Settings

if TYPE_CHECKING:
    from gtm_pipeline.pipeline.audit import Anchor

ANCHOR_PAGE = 10_000


def prepare_dagster_home(settings: Settings) -> Path:
    """Point ``DAGSTER_HOME`` at the instance folder (``home/dagster`` by default) and install the
    bundled ``dagster.yaml`` there.

    The file is the operator's once installed: a newer template replaces it only while it is
    unchanged since it was installed (its hash is kept beside it), so Postgres settings or pool
    limits an operator wrote there are never overwritten.
    """
    home = settings.paths.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    template = (settings.paths.starter / "dagster.yaml").read_bytes()
    target, stamp = home / "dagster.yaml", home / ".dagster.yaml.installed"
    current = target.read_bytes() if target.is_file() else None
    installed = stamp.read_text().strip() if stamp.is_file() else None
    untouched = current is not None and hashlib.sha256(current).hexdigest() == installed
    if current is None or (untouched and current != template):
        target.write_bytes(template)
        stamp.write_text(hashlib.sha256(template).hexdigest())
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def seed_accounts(settings: Settings) -> bool:
    """Give the demo an accounts list (customers, open deals) unless the operator has one."""
    target = settings.paths.accounts
    sample = settings.paths.starter / "accounts.csv"
    if settings.origin("paths.accounts").kind != "default" or target.exists() or not sample.is_file():
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(sample, target)
    return True


@dataclass
class GraphRun:
    """Which Dagster runs the demo made and whether they succeeded."""

    run_ids: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    partitions: int = 0

    @property
    def success(self) -> bool:
        return not self.failed


def _load_definitions() -> dg.Definitions:
    from gtm_pipeline.definitions import defs

    return defs() if not isinstance(defs, dg.Definitions) else defs


def run_graph(
    instance: dg.DagsterInstance,
    *,
    log_level: str = "INFO",
    on_progress: Callable[[int, int], None] | None = None,
) -> GraphRun:
    """Materialize discovery, then every prospect partition in ranged runs (``on_progress`` hears
    (partitions done, partitions in all) after discovery and after each run)."""
    from gtm_pipeline.defs.partitions import MAX_PARTITIONS_PER_RUN, PROSPECTS, run_request

    definitions = _load_definitions()
    outcome = GraphRun()
    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    discovery = definitions.resolve_job_def("discovery_job").execute_in_process(
        instance=instance, run_config=run_config, raise_on_error=False
    )
    outcome.run_ids.append(discovery.run_id)
    if not discovery.success:
        outcome.failed.append(discovery.run_id)
        return outcome
    keys = instance.get_dynamic_partitions(PROSPECTS)
    outcome.partitions = len(keys)
    prospect_job = definitions.resolve_job_def("prospect_pipeline_job")
    report = on_progress or (lambda _done, _total: None)
    report(0, len(keys))
    for start in range(0, len(keys), MAX_PARTITIONS_PER_RUN):
        chunk = list(keys[start : start + MAX_PARTITIONS_PER_RUN])
        _run_partitions(prospect_job, instance, run_request(chunk, "demo"), run_config, outcome)
        report(start + len(chunk), len(keys))
    return outcome


def _run_partitions(
    job: dg.JobDefinition,
    instance: dg.DagsterInstance,
    request: dg.RunRequest,
    run_config: Mapping[str, Any],
    outcome: GraphRun,
) -> None:
    """Execute one prospect run request in process and record its run id and outcome."""
    result = job.execute_in_process(
        instance=instance,
        partition_key=request.partition_key,
        tags=dict(request.tags),
        run_config=run_config,
        raise_on_error=False,
    )
    outcome.run_ids.append(result.run_id)
    if not result.success:
        outcome.failed.append(result.run_id)


def run_prospects(
    instance: dg.DagsterInstance,
    prospect_ids: list[str],
    *,
    run_key: str,
    log_level: str = "INFO",
    on_progress: Callable[[int, int], None] | None = None,
) -> GraphRun:
    """Register ``prospect_ids`` as partitions and materialize exactly those (an import's prospects:
    research, qualification, drafting), never the partitions between them."""
    from gtm_pipeline.defs.partitions import PROSPECTS, exact_run_requests, register_partitions

    outcome = GraphRun()
    if not prospect_ids:
        return outcome
    register_partitions(instance, prospect_ids)
    definitions = _load_definitions()
    prospect_job = definitions.resolve_job_def("prospect_pipeline_job")
    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    ordered = instance.get_dynamic_partitions(PROSPECTS)
    wanted = set(prospect_ids)
    while wanted:
        runs = exact_run_requests(ordered, wanted, run_key)
        if not runs.requests:
            break
        done = outcome.partitions
        for request in runs.requests:
            _run_partitions(prospect_job, instance, request, run_config, outcome)
            if on_progress is not None:
                done += _request_size(request, ordered)
                on_progress(done, len(prospect_ids))
        outcome.partitions += len(runs.covered)
        wanted -= runs.covered
    return outcome


def _request_size(request: dg.RunRequest, ordered: Sequence[str]) -> int:
    """How many partitions a run request covers (one key, or an inclusive range of keys)."""
    from gtm_pipeline.defs.partitions import RANGE_END_TAG, RANGE_START_TAG

    if request.partition_key is not None:
        return 1
    first, last = request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]
    return ordered.index(last) - ordered.index(first) + 1


def journal_anchors(instance: dg.DagsterInstance) -> dict[str, Anchor]:
    """The newest journal head Dagster recorded for each prospect partition (read only)."""
    from gtm_pipeline.pipeline.audit import Anchor

    anchors: dict[str, Anchor] = {}
    cursor = None
    while True:
        page = instance.fetch_materializations(dg.AssetKey("journal"), limit=ANCHOR_PAGE, cursor=cursor)
        for record in page.records:  # newest first
            event = record.asset_materialization
            if event is None or event.partition is None or event.partition in anchors:
                continue
            meta = event.metadata
            if "head_seq" in meta and "head_hash" in meta:
                anchors[event.partition] = Anchor(
                    int(str(meta["head_seq"].value)), str(meta["head_hash"].value)
                )
        if not page.has_more:
            return anchors
        cursor = page.cursor

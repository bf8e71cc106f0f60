"""What makes a backfill launched from the UI prompt on the daemon path (bench/backfill.py measures
it): the daemon picks backfills up every 2 s, runs are a hundred partitions, a backfill run's steps
run in the run's process."""

from __future__ import annotations

import inspect
import sys

import dagster as dg
import pytest
import yaml
from dagster._daemon import backfill, controller

from gtm_pipeline.dagster_control import BACKFILL_INTERVAL_S, run_daemon
from gtm_pipeline.definitions import defs as lazy_defs
from gtm_pipeline.defs.partitions import BACKFILL_PARTITIONS_PER_RUN, PROSPECT_BACKFILL
from tests.conftest import REPO


def _defs() -> dg.Definitions:
    return lazy_defs() if not isinstance(lazy_defs, dg.Definitions) else lazy_defs  # type: ignore[no-any-return]


def test_premise_dagsters_backfill_loop_reads_the_interval_from_the_controller_on_each_start() -> None:
    # run_daemon relies on it: the loop imports the constant when it starts, not when Dagster loads
    source = inspect.getsource(backfill.execute_backfill_iteration_loop)
    assert "from dagster._daemon.controller import DEFAULT_DAEMON_INTERVAL_SECONDS" in source
    assert "DEFAULT_DAEMON_INTERVAL_SECONDS - loop_duration" in source
    assert controller.DEFAULT_DAEMON_INTERVAL_SECONDS == 30  # Dagster's, until run_daemon sets it


def test_the_daemon_runs_with_the_backfill_interval_set(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(controller, "DEFAULT_DAEMON_INTERVAL_SECONDS", 30)  # restored afterwards
    monkeypatch.setattr(sys, "argv", sys.argv)
    assert run_daemon(["--version"]) == 0  # Dagster's daemon CLI ran (and answered)
    assert "version" in capsys.readouterr().out.lower()
    assert controller.DEFAULT_DAEMON_INTERVAL_SECONDS == BACKFILL_INTERVAL_S == 2.0
    assert run_daemon(["--version"], backfill_interval_s=5) == 0
    assert controller.DEFAULT_DAEMON_INTERVAL_SECONDS == 5
    assert run_daemon(["no-such-command"]) == 2  # click's usage error: the exit code, not a crash


def test_the_starter_instance_submits_backfill_runs_on_threads_and_keeps_the_asset_daemons_cadence() -> None:
    config = yaml.safe_load((REPO / "gtm_pipeline" / "starter" / "dagster.yaml").read_text())
    assert config["auto_materialize"]["minimum_interval_seconds"] == 30
    # a slot per run in the model pools, and runs submitted on threads (bench/backfill.py measured)
    assert (
        config["concurrency"]["pools"]["default_limit"]
        == config["concurrency"]["runs"]["max_concurrent_runs"]
    )
    assert config["backfills"]["use_threads"] and config["backfills"]["num_submit_workers"] > 1
    from dagster._config import validate_config
    from dagster._core.instance.config import dagster_instance_config_schema

    assert validate_config(dagster_instance_config_schema(), config).success


def test_a_backfill_runs_a_hundred_prospects_a_run_in_the_runs_process() -> None:
    assert PROSPECT_BACKFILL.max_partitions_per_run == BACKFILL_PARTITIONS_PER_RUN == 100
    definitions = _defs()
    # what a UI backfill of an asset runs: the implicit asset job, in process
    assert definitions.resolve_implicit_global_asset_job_def().executor_def.name == "in_process"
    # what the sensors launch keeps a process per step: draft and context pack side by side
    for job in ("prospect_pipeline_job", "conversation_job", "discovery_job"):
        assert definitions.resolve_job_def(job).executor_def.name == "multi_or_in_process_executor"

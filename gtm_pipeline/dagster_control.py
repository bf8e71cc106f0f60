"""Start and stop a schedule or sensor of this code location on the workspace's Dagster instance.

Dagster has no public Python API for this. Its CLI (``dagster schedule start``) does it by
starting a gRPC code server for the location, which costs seconds per call and does not run under
a moved clock (libfaketime stalls gRPC's timers), so the tests that move the clock could not
cover it. This module does in-process what that command does, with the same internal classes
(Dagster 1.13, pinned below 1.14): load the location in this process, find the schedule, and let
the instance record its new state. The daemon finds a schedule's state by its selector (location,
repository and schedule name), so the location name here is the one ``gtm ui`` and
``workspace.yaml`` give the code location.

It also starts the daemon (``python -m gtm_pipeline.dagster_control daemon -w workspace.yaml``):
``dagster-daemon run`` with the backfill daemon iterating every few seconds instead of Dagster's
fixed 30 (see :func:`run_daemon`).
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import dagster as dg

LOCATION_NAME = "gtm_pipeline"
DEFINITIONS_MODULE = "gtm_pipeline.definitions"


@contextmanager
def _schedule(instance: dg.DagsterInstance, name: str) -> Iterator[tuple[Any, Any]]:
    """(the location's schedule, its recorded state or None), with the location loaded in process."""
    with _instigator(instance, name, sensor=False) as found:
        yield found


@contextmanager
def _instigator(instance: dg.DagsterInstance, name: str, *, sensor: bool) -> Iterator[tuple[Any, Any]]:
    """(the location's schedule or sensor, its recorded state or None), the location loaded in process."""
    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(
            executable_path=sys.executable, module_name=DEFINITIONS_MODULE, working_directory=os.getcwd()
        ),
        location_name=LOCATION_NAME,
    )
    with origin.create_location(instance) as location:
        (repository,) = location.get_repositories().values()
        found = repository.get_sensor(name) if sensor else repository.get_schedule(name)
        yield found, instance.get_instigator_state(found.get_remote_origin_id(), found.selector_id)


def set_schedule(instance: dg.DagsterInstance, name: str, *, running: bool) -> str:
    """Start (``running``) or stop a schedule; returns its state after: ``running`` or ``stopped``."""
    with _schedule(instance, name) as (schedule, state):
        if running and not (state is not None and state.is_running):
            instance.start_schedule(schedule)
        elif not running and (state is None or state.is_running):
            instance.stop_schedule(schedule.get_remote_origin_id(), schedule.selector_id, schedule)
    return schedule_state(instance, name)


def schedule_state(instance: dg.DagsterInstance, name: str) -> str:
    """``running`` or ``stopped`` as the daemon will see it (the schedule's default when never set)."""
    with _schedule(instance, name) as (schedule, state):
        if state is None:
            return "running" if schedule.default_status == dg.DefaultScheduleStatus.RUNNING else "stopped"
        return "running" if state.is_running else "stopped"


def set_sensor(instance: dg.DagsterInstance, name: str, *, running: bool) -> str:
    """Start (``running``) or stop a sensor; returns its state after: ``running`` or ``stopped``.

    The daemon runs a sensor declared ``RUNNING`` by default until its state says otherwise, so a
    stop is recorded even when it was never started explicitly (a benchmark stops ``new_prospects``
    so that only the backfill it measures talks to the provider)."""
    with _instigator(instance, name, sensor=True) as (sensor, state):
        if running and not (state is not None and state.is_running):
            instance.start_sensor(sensor)
        elif not running and (state is None or state.is_running):
            instance.stop_sensor(sensor.get_remote_origin_id(), sensor.selector_id, sensor)
    with _instigator(instance, name, sensor=True) as (sensor, state):
        if state is None:
            return "running" if sensor.default_status == dg.DefaultSensorStatus.RUNNING else "stopped"
        return "running" if state.is_running else "stopped"


# Dagster's backfill daemon looks for new and running backfills every 30 s, a constant
# (``dagster._daemon.controller.DEFAULT_DAEMON_INTERVAL_SECONDS``, not an instance setting; Dagster
# issue 11649). A backfill launched from the UI waits up to 30 s before its first run is even
# created, and is marked done up to 30 s after its last run ended: at 2,000 prospects and 20 calls/s
# (100 s of provider time) that alone is up to 0.6 x the ideal (bench/backfill.py). Every few
# seconds, an idle iteration is one query for backfills that need work.
BACKFILL_INTERVAL_S = 2.0


def run_daemon(argv: Sequence[str], backfill_interval_s: float = BACKFILL_INTERVAL_S) -> int:
    """``dagster-daemon <argv>`` (e.g. ``run -w workspace.yaml``) with the backfill daemon's
    iteration every ``backfill_interval_s``.

    The interval is a module constant of Dagster 1.13 (pinned below 1.14) that the backfill loop
    reads on each start; the daemons run as threads of this process, so setting it here reaches
    them. It is the default of the asset daemon too, which this instance fixes in ``dagster.yaml``
    (``auto_materialize.minimum_interval_seconds``). Should the constant move, the daemon runs as
    Dagster ships it, and says so.
    """
    from dagster._daemon import controller
    from dagster._daemon.cli import main

    if isinstance(getattr(controller, "DEFAULT_DAEMON_INTERVAL_SECONDS", None), int | float):
        controller.DEFAULT_DAEMON_INTERVAL_SECONDS = backfill_interval_s  # type: ignore[assignment]
    else:
        warnings.warn(
            "Dagster's daemon interval moved: backfills are picked up on Dagster's own cadence",
            stacklevel=2,
        )
    sys.argv = ["dagster-daemon", *argv]
    try:
        main()  # a click command: exits
    except SystemExit as done:  # click exits with a code, or with a message (an error: 1)
        return done.code if isinstance(done.code, int) else (1 if done.code else 0)
    return 0


def _main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gtm_pipeline.dagster_control",
        description="Run the Dagster daemon with prompt backfills: daemon [--backfill-interval S] ARGS...",
        add_help=False,  # --help goes on to dagster-daemon
    )
    parser.add_argument("command", choices=["daemon"])
    parser.add_argument("--backfill-interval", type=float, default=BACKFILL_INTERVAL_S, metavar="S")
    args, rest = parser.parse_known_args()
    return run_daemon(rest, max(1.0, args.backfill_interval))  # never a tight polling loop


if __name__ == "__main__":
    sys.exit(_main())

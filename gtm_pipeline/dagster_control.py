"""Start and stop a schedule or sensor of this code location on the workspace's Dagster instance.

Dagster has no public Python API for this. Its CLI (``dagster schedule start``) does it by
starting a gRPC code server for the location, which costs seconds per call and does not run under
a moved clock (libfaketime stalls gRPC's timers), so the tests that move the clock could not
cover it. This module does in-process what that command does, with the same internal classes
(Dagster 1.13, pinned below 1.14): load the location in this process, find the schedule, and let
the instance record its new state. The daemon finds a schedule's state by its selector (location,
repository and schedule name), so the location name here is the one ``gtm ui`` and
``workspace.yaml`` give the code location.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
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

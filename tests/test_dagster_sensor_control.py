"""Stopping and starting a sensor that runs by default, as the daemon will read its state."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from gtm_pipeline.dagster_control import LOCATION_NAME, set_sensor


def _stored(instance: dg.DagsterInstance, name: str) -> str | None:
    states = [
        s
        for s in instance.all_instigator_state()
        if s.name == name and s.origin.repository_origin.code_location_origin.location_name == LOCATION_NAME
    ]
    return str(states[0].status.value) if states else None


def test_a_default_running_sensor_is_stopped_and_started_again(gtm_home: Path) -> None:
    with dg.instance_for_test() as instance:
        assert _stored(instance, "new_prospects") is None  # never set: the daemon runs it (its default)
        assert set_sensor(instance, "new_prospects", running=False) == "stopped"
        assert _stored(instance, "new_prospects") == "STOPPED"
        assert _stored(instance, "follow_ups_due") is None  # only the one asked for
        assert set_sensor(instance, "new_prospects", running=True) == "running"
        assert _stored(instance, "new_prospects") == "RUNNING"

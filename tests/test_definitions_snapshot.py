"""A snapshot of the whole Dagster graph: every asset spec, check, job, schedule and sensor, with
keys, partitions, code versions, pools and tags. An unintended change to the graph fails here;
an intended one is recorded by running ``GTM_UPDATE_SNAPSHOT=1 pytest tests/test_definitions_snapshot.py``
and committing the new ``tests/snapshots/definitions.json`` with the change that caused it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import dagster as dg

from gtm_pipeline.definitions import defs as lazy_defs

SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.json"


def _partitions(definition: dg.PartitionsDefinition | None) -> str | None:
    if definition is None:
        return None
    if isinstance(definition, dg.DynamicPartitionsDefinition):
        return f"dynamic:{definition.name}"
    return type(definition).__name__


def describe(definitions: dg.Definitions) -> dict[str, Any]:
    graph = definitions.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        spec = node.assets_def.specs_by_key[key]
        policy = node.backfill_policy
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "partitions": _partitions(node.partitions_def),
            "code_version": node.code_version,
            "pools": sorted(node.pools or []),
            "kinds": sorted(spec.kinds),
            "deps": sorted(d.to_user_string() for d in node.parent_keys),
            "backfill": None
            if policy is None
            else f"{policy.policy_type.value}:{policy.max_partitions_per_run}",
            "tags": dict(sorted(spec.tags.items())),
        }
    checks = {}
    for check_key in sorted(graph.asset_check_keys, key=lambda k: k.to_user_string()):
        check_spec = graph.get_check_spec(check_key)
        checks[check_key.to_user_string()] = {
            "blocking": check_spec.blocking,
            "partitions": _partitions(check_spec.partitions_def),
        }
    jobs = {}
    for job in sorted(definitions.resolve_all_job_defs(), key=lambda j: j.name):
        if job.name.startswith("__"):
            continue
        jobs[job.name] = {
            "assets": sorted(k.to_user_string() for k in job.asset_layer.executable_asset_keys),
            "ops": sorted(node.name for node in job.nodes)
            if not job.asset_layer.executable_asset_keys
            else [],
            "tags": dict(sorted(job.tags.items())),
        }
    schedules = {
        s.name: {
            "job": s.job_name,
            "cron": s.cron_schedule,
            "timezone": s.execution_timezone,
            "default_status": s.default_status.value,
        }
        for s in sorted(definitions.schedules or [], key=lambda s: s.name)
    }
    sensors = {
        s.name: {
            "jobs": sorted(target.job_name for target in s.targets),
            "minimum_interval_seconds": s.minimum_interval_seconds,
            "default_status": s.default_status.value,
            "type": type(s).__name__,
        }
        for s in sorted(definitions.sensors or [], key=lambda s: s.name)
    }
    resources = {name: type(value).__name__ for name, value in sorted((definitions.resources or {}).items())}
    return {
        "assets": assets,
        "checks": checks,
        "jobs": jobs,
        "schedules": schedules,
        "sensors": sensors,
        "resources": resources,
    }


def test_the_graph_is_what_the_snapshot_says() -> None:
    definitions = lazy_defs() if not isinstance(lazy_defs, dg.Definitions) else lazy_defs
    current = describe(definitions)
    if os.environ.get("GTM_UPDATE_SNAPSHOT") == "1":
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    recorded = json.loads(SNAPSHOT.read_text())
    assert current == recorded, (
        "the Dagster graph changed; if that was intended, run GTM_UPDATE_SNAPSHOT=1 pytest "
        "tests/test_definitions_snapshot.py and commit tests/snapshots/definitions.json"
    )


def test_the_snapshot_holds_what_an_operator_relies_on() -> None:
    recorded = json.loads(SNAPSHOT.read_text())
    assert recorded["schedules"]["send_every_15_minutes"]["default_status"] == "STOPPED"
    for asset in ("profile", "draft", "context_pack", "conversation"):
        assert recorded["assets"][asset]["pools"], asset  # model calls take a pool slot
        assert recorded["assets"][asset]["partitions"] == "dynamic:prospects"
    for check in recorded["checks"].values():
        assert check["blocking"] and check["partitions"] == "dynamic:prospects"
    assert {"gtm", "bulk_llm", "polish_llm", "resend"} <= set(recorded["resources"])

"""Dagster's instance follows the backend the run asked for, like the store does (test_store_backend):
in the Postgres pass (GTM_TEST_POSTGRES) the instance a test asks for keeps runs, events, dynamic
partitions and schedule states in a Postgres database of its own, with deploy/dagster.yaml's
settings, so the Dagster tests of that pass can never quietly run on Dagster's in-memory storage."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import sqlalchemy as sa
import yaml

from gtm_pipeline.dagster_control import schedule_state, set_schedule
from gtm_pipeline.definitions import defs as lazy_defs
from gtm_pipeline.defs.partitions import PROSPECTS
from tests.conftest import DAGSTER_PG_SCHEME, DEPLOY_INSTANCE, POSTGRES_SERVER_ENV
from tests.corpus import expected

QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def _defs() -> dg.Definitions:
    return lazy_defs() if not isinstance(lazy_defs, dg.Definitions) else lazy_defs  # type: ignore[no-any-return]


def _rows(instance: dg.DagsterInstance, query: str, **params: object) -> list[tuple[object, ...]]:
    """Read the instance's Postgres database directly, behind Dagster's back."""
    url = sa.engine.make_url(instance.run_storage.postgres_url)  # type: ignore[attr-defined]
    engine = sa.create_engine(url.set(drivername="postgresql+psycopg"))
    try:
        with engine.connect() as c:
            return [tuple(r) for r in c.execute(sa.text(query), params)]
    finally:
        engine.dispose()


def test_the_dagster_instance_is_on_the_backend_the_run_asked_for(gtm_home: Path) -> None:
    on_postgres = bool(os.environ.get(POSTGRES_SERVER_ENV))
    with dg.DagsterInstance.ephemeral() as instance:
        storages = [instance.run_storage, instance.event_log_storage, instance.schedule_storage]
        if not on_postgres:
            assert instance.is_ephemeral
            assert not any(type(s).__module__.startswith("dagster_postgres") for s in storages)
        else:
            from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

            assert not instance.is_ephemeral
            assert isinstance(instance.run_storage, PostgresRunStorage)
            assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
            assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
            assert instance.run_coordinator is not None
            assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"  # deploy's setting
            # a database of this test's own, not the store's
            assert instance.run_storage.postgres_url != os.environ["GTM_DATABASE_URL"]  # type: ignore[attr-defined]

        run = _defs().resolve_job_def("discovery_job").execute_in_process(instance=instance, run_config=QUIET)
        assert run.success
        keys = instance.get_dynamic_partitions(PROSPECTS)
        assert len(keys) == expected().prospects
        if on_postgres:  # a schedule's state (the in-memory instance has no schedule storage) ...
            assert set_schedule(instance, "send_every_15_minutes", running=True) == "running"
            assert schedule_state(instance, "send_every_15_minutes") == "running"
            # ... and what Dagster read back above really is in Postgres
            assert _rows(instance, "SELECT status FROM runs WHERE run_id = :r", r=run.run_id) == [
                ("SUCCESS",)
            ]
            stored = _rows(
                instance,
                "SELECT partition FROM dynamic_partitions WHERE partitions_def_name = :n",
                n=PROSPECTS,
            )
            assert sorted(str(p) for (p,) in stored) == sorted(keys)
            events = _rows(
                instance,
                "SELECT count(*) FROM event_logs WHERE run_id = :r AND dagster_event_type = :t",
                r=run.run_id,
                t="ASSET_MATERIALIZATION",
            )
            assert events[0][0] >= 1
            schedules = _rows(instance, "SELECT status FROM instigators WHERE instigator_type = 'SCHEDULE'")
            assert schedules == [("RUNNING",)]


def test_the_deployment_instance_names_the_driver_dagster_postgres_is_written_for() -> None:
    """SQLAlchemy 2.1 maps a bare ``postgresql://`` to psycopg 3, and dagster-postgres' event write
    (``NOTIFY run_events, %(id)s``) fails there with a syntax error: the first run of a deployment
    would fail. The deployment's instance must name psycopg2 (installed with dagster-postgres)."""
    config = yaml.safe_load(DEPLOY_INSTANCE.read_text(encoding="utf-8"))
    scheme = config["storage"]["postgres"]["postgres_db"].get("scheme", "postgresql")
    assert sa.engine.make_url(f"{scheme}://user@host/db").get_dialect().driver == "psycopg2", (
        f"deploy/dagster.yaml: postgres_db needs `scheme: {DAGSTER_PG_SCHEME}`"
    )

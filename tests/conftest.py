"""Shared fixtures: every test gets its own GTM_HOME, so tests never share state."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from gtm_pipeline.config import STARTER, load_settings
from gtm_pipeline.domain.clock import ManualClock
from gtm_pipeline.pipeline.services import Services

REPO = Path(__file__).resolve().parent.parent
HYPOTHESIS = "healthcare-compliance-automation"
# A Monday morning three days after the sample corpus' snapshot; the tests' own dates follow it.
TEST_START = dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC)
__all__ = ["HYPOTHESIS", "REPO", "STARTER", "TEST_START", "sending_on"]


@pytest.fixture(autouse=True)
def _no_outside_configuration(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A developer's own workspace or keys never leak into a test: run from a folder of the test's own,
    with none of the project's variables set unless the test sets them."""
    from gtm_pipeline.config.model import SettingsModel, env_names

    for names in env_names(SettingsModel).values():
        for name in names:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("GTM_WORKSPACE", raising=False)
    monkeypatch.chdir(tmp_path)
    # A code location reads its settings once per process; each test is a new "process" here,
    # so the resources it binds (keys, endpoints) follow the test's environment.
    from gtm_pipeline.defs.location import location_settings

    location_settings.cache_clear()

    server = os.environ.get(POSTGRES_SERVER_ENV)  # read before the clean-up above could matter
    if server:
        monkeypatch.setenv("GTM_DATABASE_URL", _fresh_postgres_database(server, request))
        _dagster_on_postgres(server, tmp_path, request, monkeypatch)


POSTGRES_SERVER_ENV = "GTM_TEST_POSTGRES"  # e.g. postgresql+psycopg://postgres@127.0.0.1:5432


def _fresh_postgres_database(server: str, request: pytest.FixtureRequest) -> str:
    """A new, empty database on the test Postgres server for this test (dropped after it), so the
    suite runs on Postgres with the same isolation a fresh SQLite file gives."""
    import secrets

    import sqlalchemy as sa

    name = f"gtm_test_{secrets.token_hex(6)}"
    admin = sa.create_engine(f"{server.rstrip('/')}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    request.addfinalizer(drop)
    return f"{server.rstrip('/')}/{name}"


# The production instance's settings (deploy/dagster.yaml): Postgres storage, queued runs, pools.
DEPLOY_INSTANCE = REPO / "deploy" / "dagster.yaml"
DAGSTER_PG_SCHEME = "postgresql+psycopg2"  # the driver dagster-postgres is written for


def postgres_instance_yaml(server: str, database: str) -> str:
    """deploy/dagster.yaml with its ``postgres_db`` pointed at ``database`` on the test server: the
    instance a deployment runs (run, event-log and schedule storage in Postgres, its concurrency and
    pools), with only the connection values the deployment reads from its environment filled in."""
    import sqlalchemy as sa
    import yaml

    url = sa.engine.make_url(server)
    config = yaml.safe_load(DEPLOY_INSTANCE.read_text(encoding="utf-8"))
    deployed = config["storage"]["postgres"]["postgres_db"]
    config["storage"]["postgres"]["postgres_db"] = {
        "username": url.username or "postgres",
        "password": url.password or "",
        "hostname": url.host or "127.0.0.1",
        "db_name": database,
        "port": url.port or 5432,
        # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3, on which dagster-postgres' NOTIFY
        # fails; deploy/dagster.yaml must name psycopg2 (test_postgres_instance checks that it does).
        "scheme": deployed.get("scheme", DAGSTER_PG_SCHEME),
    }
    return yaml.safe_dump(config, sort_keys=False)


def postgres_dagster_home(server: str, folder: Path, request: pytest.FixtureRequest) -> Path:
    """A Dagster instance folder whose ``dagster.yaml`` keeps everything in a fresh Postgres database
    (dropped after the test); ``DagsterInstance.from_config(folder)`` or ``DAGSTER_HOME`` opens it."""
    import sqlalchemy as sa

    database = sa.engine.make_url(_fresh_postgres_database(server, request)).database
    assert database is not None
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dagster.yaml").write_text(postgres_instance_yaml(server, database), encoding="utf-8")
    return folder


def _dagster_on_postgres(
    server: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In the Postgres pass, the throwaway instance a test asks for (``DagsterInstance.ephemeral()``
    called from a test module) is a Postgres-backed one on a fresh database instead of Dagster's
    in-memory one, so the Dagster tests run their materializations, sensors and schedules on
    ``dagster-postgres`` unchanged. Dagster's own internal uses of ``ephemeral`` (contexts built
    without an instance) stay in memory. tests/test_postgres_instance.py proves the switch holds."""
    import itertools
    import sys

    import dagster as dg

    original = dg.DagsterInstance.ephemeral
    made = itertools.count()

    def ephemeral(
        tempdir: str | None = None, preload: object = None, settings: dict[str, object] | None = None
    ) -> dg.DagsterInstance:
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if caller.startswith("tests.") and tempdir is None and preload is None and settings is None:
            home = postgres_dagster_home(server, tmp_path / f"dagster-pg-{next(made)}", request)
            return dg.DagsterInstance.from_config(str(home))
        return original(tempdir=tempdir, preload=preload, settings=settings)  # type: ignore[arg-type]

    monkeypatch.setattr(dg.DagsterInstance, "ephemeral", staticmethod(ephemeral))


@pytest.fixture
def gtm_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "gtm-home"
    monkeypatch.setenv("GTM_HOME", str(home))
    return home


@pytest.fixture
def services(gtm_home: Path) -> Iterator[Services]:
    """The pipeline's services on a manual clock at ``TEST_START``: a test moves time explicitly
    (``services.clock.set``), so it gives the same answer on any date."""
    svc = Services.from_settings(load_settings(), clock=ManualClock(TEST_START))
    yield svc
    svc.close()


OPERATOR_PASSWORD = "a long passphrase"


@pytest.fixture
def app_services(gtm_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    """Services as ``gtm serve`` builds them: an operator password set and a private copy of the
    starter skills (a test may break or promote one without touching the package's)."""
    skills = tmp_path / "skills"
    shutil.copytree(STARTER / "skills", skills)
    monkeypatch.setenv("GTM_SKILLS_DIR", str(skills))
    monkeypatch.setenv("GTM_OPERATOR_PASSWORD", OPERATOR_PASSWORD)
    svc = Services.from_settings(load_settings(), clock=ManualClock(TEST_START))
    yield svc
    svc.close()


def sending_on(services: Services, actor: str = "test") -> None:
    """Switch sending on (it starts off), as the operator does with ``gtm sending start``."""
    services.store.ledger.switch_sending(True, actor=actor, reason="test", schedule="not used")

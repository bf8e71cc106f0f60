"""Shared fixtures: every test gets its own GTM_HOME, so tests never share state."""

from __future__ import annotations

import datetime as dt
import os
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


def sending_on(services: Services, actor: str = "test") -> None:
    """Switch sending on (it starts off), as the operator does with ``gtm sending start``."""
    services.store.ledger.switch_sending(True, actor=actor, reason="test", schedule="not used")

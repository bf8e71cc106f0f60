"""The suite runs on the store the environment asks for: SQLite by default, a fresh Postgres database
per test when GTM_TEST_POSTGRES names a server (.ci/run does both), so a Postgres pass can never
quietly be a second SQLite pass."""

from __future__ import annotations

import os

import sqlalchemy as sa

from gtm_pipeline.pipeline.services import Services
from tests.conftest import POSTGRES_SERVER_ENV


def test_the_store_is_on_the_backend_the_run_asked_for(services: Services) -> None:
    expected = "postgresql" if os.environ.get(POSTGRES_SERVER_ENV) else "sqlite"
    assert services.store.engine.dialect.name == expected
    with services.store.reading() as c:  # migrated to the head on that backend
        assert c.execute(sa.text("SELECT count(*) FROM prospects")).scalar_one() == 0

"""Shared fixtures: every test gets its own GTM_HOME, so tests never share state."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gtm_pipeline.config import paths
from gtm_pipeline.pipeline.services import Services

REPO = Path(__file__).resolve().parent.parent
HYPOTHESIS = "healthcare-compliance-automation"


@pytest.fixture
def gtm_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "gtm-home"
    monkeypatch.setenv("GTM_HOME", str(home))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("GTM_DATABASE_URL", raising=False)
    return home


@pytest.fixture
def services(gtm_home: Path) -> Iterator[Services]:
    svc = Services.from_environment(paths())
    yield svc
    svc.close()

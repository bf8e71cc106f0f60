"""The deployment files (deploy/) are valid where it can be checked without a Docker engine: the
compose file through `docker-compose config` (Debian's docker-compose, which .ci/run installs), its
shape (only the receiver faces the internet; the console, the Dagster UI and Postgres do not), the
image runs as a non-root user, and each Dagster instance file loads as an instance config."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config
from dagster_postgres import DagsterPostgresStorage

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
STARTER_INSTANCE = DEPLOY.parent / "gtm_pipeline" / "starter" / "dagster.yaml"
GTM_SERVICES = {"code", "daemon", "webserver", "receiver", "console"}


@pytest.fixture
def compose(tmp_path: Path) -> dict[str, object]:
    """The compose file as `docker-compose config` resolves it, with the example .env."""
    binary = shutil.which("docker-compose") or shutil.which("docker")
    if binary is None:
        raise RuntimeError("docker-compose is required to check deploy/ (.ci/run installs Debian's)")
    folder = tmp_path / "deploy"
    shutil.copytree(DEPLOY, folder)
    shutil.copy(folder / "env.example", folder / ".env")
    command = [binary, "-f", str(folder / "docker-compose.yml"), "--env-file", str(folder / ".env"), "config"]
    if binary.endswith("docker"):
        command.insert(1, "compose")
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)  # type: ignore[no-any-return]


def _published(service: dict[str, object]) -> list[str]:
    """The host address each published port binds to (short "ip:host:container" or long form)."""
    found = []
    for port in service.get("ports", []):  # type: ignore[attr-defined]
        if isinstance(port, dict):
            found.append(str(port.get("host_ip") or "0.0.0.0"))
        else:
            parts = str(port).split(":")
            found.append(parts[0] if len(parts) == 3 else "0.0.0.0")
    return found


def test_the_compose_file_parses_and_only_the_receiver_faces_the_internet(compose: dict[str, object]) -> None:
    services = compose["services"]
    assert isinstance(services, dict) and set(services) == GTM_SERVICES | {"postgres"}
    assert _published(services["receiver"]) == ["0.0.0.0"]  # the webhook endpoint
    for name in ("console", "webserver"):
        assert _published(services[name]) == ["127.0.0.1"], name  # the operator's side: loopback only
    assert "ports" not in services["postgres"]
    images = {services[name]["image"] for name in GTM_SERVICES}
    assert images == {"gtm-pipeline:latest"}  # one image for every process
    for name in GTM_SERVICES:
        environment = services[name]["environment"]
        assert environment["GTM_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert environment["DAGSTER_PG_HOST"] == "postgres"
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "--no-console" in services["receiver"]["command"]
    assert "--no-console" not in services["console"]["command"]


def test_the_image_runs_as_a_non_root_user_and_installs_the_postgres_extra() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\S+)", dockerfile, flags=re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert '"gtm-pipeline[postgres]"' in dockerfile and "slim" in dockerfile.split("\n", 5)[-1]
    assert (DEPLOY.parent / ".gitignore").read_text().count("deploy/.env") == 1  # secrets stay out of git


@pytest.mark.parametrize("source", [DEPLOY / "dagster.yaml", STARTER_INSTANCE], ids=["deploy", "embedded"])
def test_each_dagster_instance_file_loads_as_an_instance_config(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("DAGSTER_PG_USERNAME", "DAGSTER_PG_PASSWORD", "DAGSTER_PG_HOST", "DAGSTER_PG_DB"):
        monkeypatch.setenv(name, f"value-of-{name.lower()}")
    shutil.copy(source, tmp_path / "dagster.yaml")
    config, _custom = dagster_instance_config(str(tmp_path))
    assert config["telemetry"] == {"enabled": False}
    concurrency = config["concurrency"]
    assert concurrency["pools"]["default_limit"] == concurrency["runs"]["max_concurrent_runs"]  # slot per run
    storage = config.get("storage")
    if source.parent == DEPLOY:
        assert storage is not None and "postgres" in storage
        checked = process_config(DagsterPostgresStorage.config_type(), storage["postgres"])
        assert checked.success, checked.errors
        assert checked.value["postgres_db"]["hostname"] == "value-of-dagster_pg_host"
    else:
        assert storage is None  # the embedded default: SQLite under DAGSTER_HOME

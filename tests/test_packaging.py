"""`pip install` of the project, then `gtm init` and `gtm demo` in an empty folder, away from the
repository and with no variable exported: the starter skills, hypothesis, corpus, prices and
instance template ship inside the package."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import REPO
from tests.corpus import expected


def test_the_wheel_carries_the_starter_and_runs_init_and_demo_in_an_empty_folder(tmp_path: Path) -> None:
    # Built from a clean copy: setuptools' build/ folder in a working tree can hold stale modules.
    source = tmp_path / "source"
    shutil.copytree(
        REPO,
        source,
        ignore=shutil.ignore_patterns(".git", ".venv", "build", "dist", "data", "*.egg-info", "__pycache__"),
    )
    dist = tmp_path / "dist"
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dist),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = dist.glob("gtm_pipeline-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "gtm_pipeline/starter/skills/research/GROUP.md",
        "gtm_pipeline/starter/skills/writing-copilot/draft-first-touch/SKILL.md",
        "gtm_pipeline/starter/hypotheses/healthcare-compliance-automation.md",
        "gtm_pipeline/starter/corpus/manifest.yaml",
        "gtm_pipeline/starter/accounts.csv",
        "gtm_pipeline/starter/models.yaml",
        "gtm_pipeline/starter/dagster.yaml",
        "gtm_pipeline/store/migrations/versions/0007_contacts_and_imports.py",
        "gtm_pipeline/console/templates/base.html",
        "gtm_pipeline/console/templates/partials/why_here.html",  # partials are in a folder of their own
        "gtm_pipeline/console/templates/partials/review_card.html",
        "gtm_pipeline/console/static/console.css",
    ):
        assert needed in names, needed

    site = tmp_path / "site"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    folder = tmp_path / "campaign"
    folder.mkdir()
    # Nothing of the project's configuration exported; the installed copy shadows the editable one.
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(site)}

    def gtm(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gtm_pipeline.cli", *args],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    init = gtm("init")
    assert init.returncode == 0, init.stderr[-2000:]
    assert (folder / "gtm.toml").is_file() and (folder / "skills" / "research" / "GROUP.md").is_file()
    demo = gtm("demo")
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert f"prospects found     {expected().prospects}" in demo.stdout
    assert "demo defaults" not in demo.stderr  # it ran in the workspace
    assert (folder / "data" / "gtm.sqlite").is_file() and (
        folder / "data" / "dagster" / "dagster.yaml"
    ).is_file()
    shown = json.loads(gtm("config", "show", "--json").stdout)["settings"]
    assert shown["resolved.corpus"]["value"].startswith(str(site))  # the installed copy's starter
    assert shown["resolved.skills"]["value"] == str(folder / "skills")  # the workspace's own, editable

"""The architecture as a checked contract: imports go only downward, and product code never
depends on a test double. A layer may import itself and anything below it; the composition roots
at the top (the app, the rehearsal, the CLI, the Dagster entry point) are where the parts meet."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

PACKAGE = REPO / "gtm_pipeline"
# Lowest first. Twins sit outside the order: they may import product code, never the reverse.
LAYERS: list[set[str]] = [
    {"domain"},
    {"config"},
    {"store"},
    {"providers", "sources", "imports"},
    {"skills"},
    {"outreach", "alerts", "meetings", "crm", "funnel"},
    {"pipeline", "evals"},
    {"console", "defs"},
    {"app", "rehearsal", "sample_web", "orchestrate", "definitions", "dagster_control", "cli"},
]
# Composition roots that play the far end: the campaign rehearsal, and the sample companies' sites
# that `gtm demo` reads through the real fetcher.
TWIN_USERS = {"rehearsal", "sample_web"}


def _layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gtm_pipeline"):
            if node.module == "gtm_pipeline":
                found += [(node.lineno, f"gtm_pipeline.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("gtm_pipeline.")]
    return found


def test_every_module_belongs_to_a_layer() -> None:
    known = set().union(*LAYERS) | {"twins", "__init__", "__main__"}
    tops = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir() if p.suffix == ".py" or p.is_dir()}
    tops -= {"__pycache__", "starter"}
    assert tops <= known, f"modules without a layer: {sorted(tops - known)}"


def test_imports_only_go_down_and_product_code_never_imports_a_twin() -> None:
    rank = {name: i for i, layer in enumerate(LAYERS) for name in layer}
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(REPO).with_suffix("")
        source = _layer_of(".".join(relative.parts))
        if source in ("twins", "__init__", "__main__"):
            continue
        for line, module in _imports(path):
            target = _layer_of(module)
            where = f"{path.relative_to(REPO)}:{line} imports {module}"
            if target == "twins":
                if source not in TWIN_USERS:
                    problems.append(f"{where} (product code never imports a twin)")
                continue
            if target in rank and source in rank and rank[target] > rank[source]:
                problems.append(f"{where} (upward: {source} is below {target})")
    assert problems == []


def test_the_dagster_code_location_does_not_load_the_web_apps() -> None:
    """Loading the definitions must not import FastAPI, the console or the receiver."""
    import subprocess
    import sys

    probe = (
        "import sys, gtm_pipeline.definitions as d\n"
        "d.defs()\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('fastapi', 'gtm_pipeline.console', "
        "'gtm_pipeline.app', 'gtm_pipeline.outreach.receiver', 'gtm_pipeline.twins')))\n"
        "print('LOADED', bad)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "LOADED []" in result.stdout, result.stdout


STAGES = ["discovery", "research", "outreach", "audit"]  # the order the data flows


def test_the_dagster_stages_import_only_the_stages_before_them() -> None:
    problems = []
    for path in sorted((PACKAGE / "defs").rglob("*.py")):
        parts = path.relative_to(PACKAGE / "defs").parts
        if len(parts) < 2 or parts[0] not in STAGES:
            continue
        own = STAGES.index(parts[0])
        for line, module in _imports(path):
            names = module.split(".")
            if len(names) > 2 and names[1] == "defs" and names[2] in STAGES and STAGES.index(names[2]) > own:
                problems.append(f"{path.relative_to(REPO)}:{line} imports the later stage {module}")
    assert problems == []


def test_no_module_imports_another_modules_private_names() -> None:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gtm_pipeline"):
                private = [
                    a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")
                ]
                if private:
                    problems.append(
                        f"{path.relative_to(REPO)}:{node.lineno} imports {private} from {node.module}"
                    )
    assert problems == []

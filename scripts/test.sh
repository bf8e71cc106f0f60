#!/usr/bin/env bash
# Set up (a virtualenv in .venv with the dev extras) and run every check: lint, types,
# Dagster definition validation, and the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[dev]"
export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff"; ruff check gtm_pipeline tests scripts
echo "== mypy"; mypy
echo "== dagster definitions validate"
tmp_home=$(mktemp -d)
GTM_HOME="$tmp_home" DAGSTER_HOME="$tmp_home/dagster" bash -c 'mkdir -p "$DAGSTER_HOME" && dagster definitions validate -w workspace.yaml >/dev/null'
rm -rf "$tmp_home"
echo "== pytest"; pytest -q "$@"

#!/usr/bin/env bash
# Set up (a virtualenv in .venv, the package installed editable) and run the whole pipeline on the
# embedded default: no API keys, no servers. State goes to $GTM_HOME (default ./data).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
exec .venv/bin/gtm demo "$@"

#!/usr/bin/env bash
# Set up (a virtualenv in .venv, the package installed editable) and run the whole pipeline on the
# embedded default: no API keys, no servers. State goes to $GTM_HOME (default ./data).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
exec .venv/bin/gtm demo "$@"

#!/usr/bin/env bash
# Screenshots of the console's main pages (sample data only) into docs/screenshots/.
# Runs a demo and a rehearsal on throwaway homes, serves the console on loopback and drives
# headless Chromium ($GTM_CHROMIUM, else chromium on PATH). See scripts/screenshots.py.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh "[dev]"  # playwright drives the browser
exec .venv/bin/python scripts/screenshots.py "$@"

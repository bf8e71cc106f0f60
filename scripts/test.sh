#!/usr/bin/env bash
# Set up (a virtualenv in .venv with the dev extras) and run every check: lint, types,
# Dagster definition validation, and the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh "[dev]"
export VIRTUAL_ENV="$PWD/.venv" PATH="$PWD/.venv/bin:$PATH"
echo "== ruff"; ruff check gtm_pipeline tests scripts bench
echo "== mypy"; mypy
echo "== dg check defs"
tmp_home=$(mktemp -d)
mkdir -p "$tmp_home/dagster" && cp gtm_pipeline/starter/dagster.yaml "$tmp_home/dagster/"
GTM_HOME="$tmp_home" DAGSTER_HOME="$tmp_home/dagster" dg check defs
rm -rf "$tmp_home"
echo "== benchmark (prints figures, asserts nothing; GTM_BENCH_PROSPECTS=0 skips it)"
if [ "${GTM_BENCH_PROSPECTS:-2000}" != "0" ]; then
  python bench/rescore.py --prospects "${GTM_BENCH_PROSPECTS:-2000}" --latency 0.2 --rate 20 2>/dev/null
fi
if [ "${GTM_BENCH_BACKFILL:-2000}" != "0" ]; then
  python bench/backfill.py --prospects "${GTM_BENCH_BACKFILL:-2000}" --latency 0.2 --rate 20 2>/dev/null
  python bench/partition_metadata.py --partitions 2000 20000 2>/dev/null
fi
if [ "${GTM_BENCH_WEBHOOKS:-6000}" != "0" ]; then
  python bench/webhooks.py --events "${GTM_BENCH_WEBHOOKS:-6000}" --clients 8
fi
if [ "${GTM_BENCH_CONSOLE:-100000}" != "0" ]; then
  python bench/console.py --prospects "${GTM_BENCH_CONSOLE:-100000}" --requests 20
fi
if [ "${GTM_BENCH_IMPORT:-100000}" != "0" ]; then
  python bench/imports.py --rows "${GTM_BENCH_IMPORT:-100000}"
fi
if [ "${GTM_BENCH_FETCH:-200}" != "0" ]; then
  python bench/fetch.py --sites "${GTM_BENCH_FETCH:-200}" --pages 5 --latency 0.05
fi
if [ "${GTM_BENCH_SCALE:-100000}" != "0" ]; then
  python bench/scale.py --prospects "${GTM_BENCH_SCALE:-100000}" --backfill-sample 1000 --requests 5
fi
if [ "${GTM_BENCH_DISCOVERY:-1000}" != "0" ]; then
  python bench/discovery.py --companies 300 --hits "${GTM_BENCH_DISCOVERY:-1000}"
fi
if [ "${GTM_BENCH_FUNNEL:-100000}" != "0" ]; then
  python bench/funnel.py --prospects "${GTM_BENCH_FUNNEL:-100000}" --requests 3
fi
if [ "${GTM_BENCH_COST:-200}" != "0" ]; then
  python bench/cost.py --prospects "${GTM_BENCH_COST:-200}" --batches
  python bench/reply_rules.py
fi
# Every skill's eval set through `gtm eval`, offline and on the twins: a miss of a group's bar fails here.
echo "== gtm eval (every skill; offline, then the twins)"; python bench/evals.py
echo "== pytest"; pytest -q "$@"

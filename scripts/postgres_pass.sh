# Sourced by .ci/run: start a throwaway PostgreSQL server (Debian's package) on loopback and run the
# Postgres pass: the store, its migrations, the two- and eight-process writer tests, the receiver,
# the console, the pipeline and Dagster runs, imports, discovery and a rehearsed campaign, each test
# on a fresh database of its own (tests/conftest.py, GTM_TEST_POSTGRES). Dagster is on Postgres too:
# the instance each test asks for is deploy/dagster.yaml's (dagster-postgres) on another fresh
# database, and a whole `gtm demo` + replay + rehearsal runs through the CLI on both.
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
PG_DIR=$(mktemp -d)
PG_PORT=${GTM_CI_PG_PORT:-55499}
chmod 755 "$PG_DIR"
# A throwaway server: no fsync (a crash loses nothing worth keeping), so commits cost no disk flush.
# Benchmarks of durable writes start their own server with the defaults.
PG_THROWAWAY="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
as_pg() {
  # Postgres refuses to run as root: as root, run it as Debian's postgres user.
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ "$(id -u)" = "0" ]; then chown postgres "$PG_DIR"; fi
as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U postgres >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
  -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=300 $PG_THROWAWAY" start >/dev/null
trap 'as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast stop >/dev/null 2>&1 || true' EXIT
GTM_TEST_POSTGRES="postgresql+psycopg://postgres@127.0.0.1:$PG_PORT" .venv/bin/pytest -q -p no:cacheprovider \
  tests/test_store_backend.py tests/test_store.py tests/test_concurrency.py \
  tests/test_receiver_bounds.py tests/test_receiver_faults.py tests/test_receiver_fuzz.py tests/test_outreach.py \
  tests/test_console.py tests/test_console_hardening.py tests/test_pipeline.py tests/test_dagster.py \
  tests/test_providers.py tests/test_import.py tests/test_escalations.py tests/test_timekeeping.py \
  tests/test_safe_defaults.py tests/test_discovery_live.py \
  tests/test_postgres_instance.py tests/test_automation.py tests/test_exact_runs.py tests/test_demo_postgres.py \
  tests/test_journal_concurrency.py tests/test_login_throttle_concurrency.py \
  tests/test_receiver_workers.py tests/test_receiver_batching.py tests/test_alerts.py tests/test_scale_cohorts.py \
  tests/test_receiver_fast_path.py tests/test_meetings.py tests/test_meetings_rehearsal.py tests/test_crm.py \
  tests/test_crm_exports.py tests/test_funnel.py tests/test_console_funnel.py tests/test_crm_erasure.py \
  tests/test_batch_queue_store.py tests/test_batch_pipeline.py tests/test_console_queries_board.py
# The receiver's durable figure: a second server with Postgres' own defaults (fsync and synchronous
# commit on: a 2xx means on disk), three `gtm serve` workers at saturation (issue 16: >= 2,000 events/s).
DURABLE_DIR=$(mktemp -d)
DURABLE_PORT=$((PG_PORT + 1))
chmod 755 "$DURABLE_DIR"
if [ "$(id -u)" = "0" ]; then chown postgres "$DURABLE_DIR"; fi
as_pg "$PG_BIN/initdb" -D "$DURABLE_DIR/data" -A trust -U postgres >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$DURABLE_DIR/data" -l "$DURABLE_DIR/log" -w \
  -o "-p $DURABLE_PORT -k $DURABLE_DIR -c listen_addresses=127.0.0.1 -c max_connections=100" start >/dev/null
trap 'as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast stop >/dev/null 2>&1 || true; as_pg "$PG_BIN/pg_ctl" -D "$DURABLE_DIR/data" -m fast stop >/dev/null 2>&1 || true' EXIT
.venv/bin/python bench/webhooks.py --events 20000 --clients 32 --workers 3 --skip-baseline \
  --postgres "postgresql+psycopg://postgres@127.0.0.1:$DURABLE_PORT"

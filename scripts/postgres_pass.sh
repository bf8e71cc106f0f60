# Sourced by .ci/run: start a throwaway PostgreSQL server (Debian's package) on loopback and run the
# Postgres pass: the store, its migrations, the two- and eight-process writer tests, the receiver,
# the console, the pipeline and Dagster runs, imports, discovery and a rehearsed campaign, each test
# on a fresh database of its own (tests/conftest.py, GTM_TEST_POSTGRES).
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
PG_DIR=$(mktemp -d)
PG_PORT=${GTM_CI_PG_PORT:-55499}
chmod 755 "$PG_DIR"
as_pg() {
  # Postgres refuses to run as root: as root, run it as Debian's postgres user.
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ "$(id -u)" = "0" ]; then chown postgres "$PG_DIR"; fi
as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U postgres >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
  -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=300" start >/dev/null
trap 'as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast stop >/dev/null 2>&1 || true' EXIT
GTM_TEST_POSTGRES="postgresql+psycopg://postgres@127.0.0.1:$PG_PORT" .venv/bin/pytest -q -p no:cacheprovider \
  tests/test_store_backend.py tests/test_store.py tests/test_concurrency.py \
  tests/test_receiver_bounds.py tests/test_receiver_faults.py tests/test_receiver_fuzz.py tests/test_outreach.py \
  tests/test_console.py tests/test_console_hardening.py tests/test_pipeline.py tests/test_dagster.py \
  tests/test_providers.py tests/test_import.py tests/test_escalations.py tests/test_timekeeping.py \
  tests/test_safe_defaults.py tests/test_discovery_live.py

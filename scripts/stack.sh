#!/usr/bin/env bash
# The local stack: PostgreSQL, Redis, FerretDB (MongoDB wire protocol, on the local Postgres), Cassandra 5.0,
# OpenSearch 2.19 (message search) and versitygw (S3: uploaded files),
# all on loopback with their state under .local/; on request (PROMETHEUS=1) Prometheus scraping the server.
# Usage: scripts/stack.sh up|down|status|clean-data
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$ROOT/scripts/stack/postgres.sh"
source "$ROOT/scripts/stack/redis.sh"
source "$ROOT/scripts/stack/ferretdb.sh"
source "$ROOT/scripts/stack/cassandra.sh"
source "$ROOT/scripts/stack/opensearch.sh"
source "$ROOT/scripts/stack/prometheus.sh"
source "$ROOT/scripts/stack/versitygw.sh"

# The application database in the local Postgres; tests create their own databases beside it.
PARLEY_PG_DB="${PARLEY_PG_DB:-parley}"

write_env() {
  # One file the server, the tests and the benchmarks read, so ports are defined in one place.
  cat >"$LOCAL/stack.env" <<ENV
PARLEY_POSTGRES_URL=postgres://postgres@127.0.0.1:$PG_PORT/$PARLEY_PG_DB?sslmode=disable
PARLEY_MONGO_URI=mongodb://127.0.0.1:$FERRETDB_PORT/
PARLEY_CASSANDRA_HOSTS=127.0.0.1:$CASSANDRA_PORT
PARLEY_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0
PARLEY_SEARCH_URLS=http://127.0.0.1:$OPENSEARCH_PORT
PARLEY_S3_ENDPOINT=http://127.0.0.1:$S3_PORT
PARLEY_S3_ACCESS_KEY=$S3_ACCESS_KEY
PARLEY_S3_SECRET_KEY=$S3_SECRET_KEY
ENV
}

up() {
  local start; start="$(_ts)"
  step "installing postgres" postgres_install
  step "installing redis" redis_install
  step "installing cassandra (jars from Maven Central)" cassandra_install
  step "building ferretdb launcher" ferretdb_install
  step "installing opensearch (jars from Maven Central)" opensearch_install
  step "building versitygw (S3 gateway)" versitygw_install
  step "starting postgres" postgres_start
  step "creating database $PARLEY_PG_DB" pg_ensure_db "$PARLEY_PG_DB"
  step "starting redis" redis_start
  step "starting ferretdb" ferretdb_start
  step "starting cassandra" cassandra_start
  step "starting opensearch" opensearch_start
  if [[ "${PROMETHEUS:-}" == 1 ]]; then
    step "installing prometheus (Debian package)" prometheus_install
    step "starting prometheus" prometheus_start
  fi
  step "starting versitygw (S3)" versitygw_start
  write_env
  log "stack ready in $(_elapsed "$start") (settings in .local/stack.env)"
}

down() {
  step "stopping versitygw" versitygw_stop
  step "stopping opensearch" opensearch_stop
  step "stopping prometheus" prometheus_stop
  step "stopping cassandra" cassandra_stop
  step "stopping ferretdb" ferretdb_stop
  step "stopping redis" redis_stop
  step "stopping postgres" postgres_stop
}

status() {
  postgres_status; redis_status; ferretdb_status; cassandra_status; opensearch_status; versitygw_status; prometheus_status
}

clean_data() {
  down
  rm -rf "$DATA" "$LOGS" "$RUNDIR" "$LOCAL/stack.env"
  log "removed $DATA (installed jars and binaries are kept)"
}

# One stack operation at a time: two `up`s at once (a benchmark's and a test's, or two work trees sharing .local)
# both started OpenSearch, the second failed on the data directory's lock and left a pid file naming a process
# that had exited, so the running node was reported "not running".
# The daemons it starts inherit the lock's descriptor, so the lock is released explicitly on exit (else the first
# daemon would hold it for as long as it runs).
serialise() {
  mkdir -p "$RUNDIR"
  exec 9>"$RUNDIR/stack.lock"
  flock 9
  trap 'flock -u 9' EXIT
}

case "${1:-}" in
  up) serialise; up ;;
  down|stop) serialise; down ;;
  status) status ;;
  clean-data) clean_data ;;
  env) write_env; cat "$LOCAL/stack.env" ;;
  *) die "usage: $0 up|down|status|clean-data|env" ;;
esac

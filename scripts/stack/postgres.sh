# PostgreSQL: a project-owned cluster on 127.0.0.1:$PG_PORT with its data under $DATA/postgres.
# Sourced by scripts/stack.sh after lib.sh. Postgres refuses to run as root, so the cluster belongs to the
# Debian `postgres` user; loopback connections use trust auth (local development only).

PG_BIN="${PG_BIN:-}"
PG_DATA="$DATA/postgres"
PG_LOG="$LOGS/postgres.log"

_pg_bindir() {
  if [[ -n "$PG_BIN" ]]; then echo "$PG_BIN"; return; fi
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
  echo "$d"
}

postgres_install() {
  if [[ -z "$(_pg_bindir)" || ! -x "$(_pg_bindir)/postgres" ]]; then
    apt_install postgresql postgresql-client
  fi
  command -v psql >/dev/null || apt_install postgresql-client
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
}

_pg_as() { runuser -u postgres -- "$@"; }

pg_psql() { psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -X -q -v ON_ERROR_STOP=1 "$@"; }

postgres_ready() { pg_psql -d postgres -tAc 'SELECT 1' | grep -qx 1; }

# _pg_allow_traverse — the server runs as the `postgres` user, so every folder above the data dir must let it
# pass through. A checkout inside a private folder (e.g. one made by mktemp -d, mode 700) does not: such
# folders get the search bit for others (o+x: pass through, not list or read).
_pg_allow_traverse() {
  local dir
  dir="$(dirname "$PG_DATA")"
  while [[ "$dir" != "/" ]]; do
    if ! _pg_as test -x "$dir"; then
      log "letting the postgres user pass through $dir (chmod o+x)"
      chmod o+x "$dir"
    fi
    dir="$(dirname "$dir")"
  done
}

postgres_start() {
  local bin; bin="$(_pg_bindir)"
  mkdir -p "$PG_DATA"
  _pg_allow_traverse
  chown postgres:postgres "$PG_DATA" "$LOGS"
  chmod 700 "$PG_DATA"
  touch "$PG_LOG" && chown postgres:postgres "$PG_LOG"
  if [[ ! -f "$PG_DATA/PG_VERSION" ]]; then
    _pg_as "$bin/initdb" -D "$PG_DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$LOGS/postgres-initdb.log" 2>&1 \
      || { show_log_tail "$LOGS/postgres-initdb.log"; return 1; }
  fi
  if _pg_as "$bin/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1 && postgres_ready; then
    log "postgres already running on 127.0.0.1:$PG_PORT"
    return 0
  fi
  if port_busy "$PG_PORT"; then
    echo "port $PG_PORT is already used by another process (another checkout's stack?); stop it or set PG_PORT" >&2
    return 1
  fi
  # Unix sockets in our own run dir so we never collide with a system cluster's /var/run/postgresql.
  mkdir -p "$RUNDIR/pg" && chown postgres:postgres "$RUNDIR/pg"
  _pg_as "$bin/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories=$RUNDIR/pg -c max_connections=300 -c fsync=on -c shared_buffers=256MB" \
    start >/dev/null || { show_log_tail "$PG_LOG"; return 1; }
  wait_until 60 "$PG_LOG" postgres postgres_ready
}

postgres_stop() {
  local bin; bin="$(_pg_bindir)"
  [[ -f "$PG_DATA/postmaster.pid" ]] || return 0
  _pg_as "$bin/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null 2>&1 || true
}

postgres_status() {
  if postgres_ready 2>/dev/null; then echo "postgres: ready on 127.0.0.1:$PG_PORT"; else echo "postgres: not running"; fi
}

# pg_ensure_db NAME — creates a database if it does not exist.
pg_ensure_db() {
  local name="$1"
  pg_psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$name'" | grep -qx 1 \
    || pg_psql -d postgres -c "CREATE DATABASE \"$name\""
}

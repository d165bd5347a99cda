# FerretDB v1.24 (MongoDB wire protocol) on 127.0.0.1:$FERRETDB_PORT, storing its data in the `ferretdb` database
# of the local Postgres. Production uses real MongoDB; no mongod can be installed here, so cmd/ferretdb (its own Go
# module) embeds FerretDB. It does not support everything MongoDB does (no TTL/partial indexes, $lookup, change
# streams, transactions; bulk upserts can hang): keep tests to the subset the app uses.
# Sourced by scripts/stack.sh after lib.sh and postgres.sh (which provides pg_psql).

FERRETDB_SRC="$ROOT/cmd/ferretdb"
FERRETDB_BIN="$BIN/ferretdb"
FERRETDB_PID="$RUNDIR/ferretdb.pid"
FERRETDB_LOG="$LOGS/ferretdb.log"
FERRETDB_PG_DB="${FERRETDB_PG_DB:-ferretdb}"

# ferretdb_install — builds the launcher when the binary is missing or older than its sources.
ferretdb_install() {
  if [[ -x "$FERRETDB_BIN" ]] && [[ -z "$(find "$FERRETDB_SRC" -maxdepth 1 -type f \
        \( -name '*.go' -o -name go.mod -o -name go.sum \) -newer "$FERRETDB_BIN" -print -quit)" ]]; then
    return 0
  fi
  command -v go >/dev/null || die "go is not installed (needed to build the ferretdb launcher)"
  # go.sum is committed complete, so -mod=readonly never resolves anything; GOWORK=off keeps a stray go.work
  # from pulling in the server module. Build to a temp file so a running launcher's binary is not clobbered.
  (cd "$FERRETDB_SRC" && GOWORK=off go build -mod=readonly -trimpath -o "$FERRETDB_BIN.tmp" .) \
    && mv -f "$FERRETDB_BIN.tmp" "$FERRETDB_BIN"
}

# _ferretdb_alive PID — PID is our launcher (not a recycled pid) and not a zombie: a container's pid 1 may reap
# exited processes late or never, and kill -0 succeeds on a zombie.
_ferretdb_alive() {
  [[ "$(cat "/proc/$1/comm" 2>/dev/null)" == ferretdb ]] && ! grep -q '^State:.*zombie' "/proc/$1/status" 2>/dev/null
}

# _ferretdb_running — the pid file names a live launcher.
_ferretdb_running() { pid_alive "$FERRETDB_PID" && _ferretdb_alive "$(cat "$FERRETDB_PID")"; }

# ferretdb_ready — a real client round trip: ping (FerretDB checks Postgres for it) and listDatabases.
ferretdb_ready() { "$FERRETDB_BIN" -ping "mongodb://127.0.0.1:$FERRETDB_PORT/"; }

# step runs these inside `if`, where set -e is off: every failure below returns explicitly.
ferretdb_start() {
  [[ -x "$FERRETDB_BIN" ]] || ferretdb_install || return 1
  if _ferretdb_running; then
    if ferretdb_ready 2>/dev/null; then
      log "ferretdb already running on 127.0.0.1:$FERRETDB_PORT"
      return 0
    fi
    warn "ferretdb (pid $(cat "$FERRETDB_PID")) is not answering; restarting it"
    ferretdb_stop
  elif [[ -f "$FERRETDB_PID" ]]; then
    warn "removing stale ferretdb pid file (the process is gone)"
  elif ferretdb_ready 2>/dev/null; then
    # Not ours (no pid file): starting another would only fail to bind the port.
    warn "something not started by this script already answers on 127.0.0.1:$FERRETDB_PORT; using it"
    return 0
  fi
  rm -f "$FERRETDB_PID"

  # FerretDB creates its schemas and tables itself, but not the Postgres database.
  if [[ "$(pg_psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$FERRETDB_PG_DB'")" != 1 ]]; then
    pg_psql -d postgres -c "CREATE DATABASE \"$FERRETDB_PG_DB\"" >/dev/null || return 1
  fi

  printf '=== %s starting ferretdb on 127.0.0.1:%s\n' "$(date -Is)" "$FERRETDB_PORT" >>"$FERRETDB_LOG"
  # setsid -f: its own session, so it outlives this shell and a terminal hang-up; the child writes its own pid
  # (then execs the launcher), which stays right whether or not setsid had to fork.
  setsid -f bash -c 'echo $$ >"$0"; exec "$@"' "$FERRETDB_PID" \
    nohup "$FERRETDB_BIN" -listen "127.0.0.1:$FERRETDB_PORT" -log-level error \
    -postgresql-url "postgres://postgres@127.0.0.1:$PG_PORT/$FERRETDB_PG_DB?sslmode=disable" \
    >>"$FERRETDB_LOG" 2>&1 </dev/null
  # Fail fast on what kills it at once (port taken, bad flags) instead of polling for 60s.
  sleep 0.3
  if ! _ferretdb_running; then
    show_log_tail "$FERRETDB_LOG"
    printf '\033[1;31merror:\033[0m ferretdb exited right after starting\n' >&2
    rm -f "$FERRETDB_PID"
    return 1
  fi
  wait_until 60 "$FERRETDB_LOG" ferretdb ferretdb_ready
}

ferretdb_stop() {
  if ! _ferretdb_running; then rm -f "$FERRETDB_PID"; return 0; fi
  local pid i; pid="$(cat "$FERRETDB_PID")"
  kill -TERM "$pid" 2>/dev/null || true          # closes the listener, client connections and the PG pool
  for i in $(seq 1 100); do _ferretdb_alive "$pid" || break; sleep 0.1; done
  if _ferretdb_alive "$pid"; then
    warn "ferretdb (pid $pid) did not stop within 10s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    for i in $(seq 1 20); do _ferretdb_alive "$pid" || break; sleep 0.1; done
  fi
  rm -f "$FERRETDB_PID"
}

ferretdb_status() {
  if _ferretdb_running; then
    if ferretdb_ready 2>/dev/null; then echo "ferretdb: ready on 127.0.0.1:$FERRETDB_PORT (pid $(cat "$FERRETDB_PID"))"
    else echo "ferretdb: running (pid $(cat "$FERRETDB_PID")) but not answering on 127.0.0.1:$FERRETDB_PORT"; fi
  elif [[ -x "$FERRETDB_BIN" ]] && ferretdb_ready 2>/dev/null; then
    echo "ferretdb: something not started by this script answers on 127.0.0.1:$FERRETDB_PORT"
  elif [[ -f "$FERRETDB_PID" ]]; then
    echo "ferretdb: not running (stale pid file: it exited or crashed; see $FERRETDB_LOG)"
  else
    echo "ferretdb: not running"
  fi
}

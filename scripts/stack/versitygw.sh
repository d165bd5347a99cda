# The Versity S3 Gateway (Apache-2.0, Go) on 127.0.0.1:$S3_PORT: a real S3-compatible server over a POSIX
# directory ($DATA/s3), for attachments, avatars and server icons (PARLEY_STORAGE=s3) and for the tests of the s3
# object store. Built from the Go module proxy by cmd/versitygw (its own module), like the ferretdb launcher.
# Sourced by scripts/stack.sh after lib.sh.

VERSITYGW_SRC="$ROOT/cmd/versitygw"
VERSITYGW_BIN="$BIN/versitygw"
VERSITYGW_PID="$RUNDIR/versitygw.pid"
VERSITYGW_LOG="$LOGS/versitygw.log"
VERSITYGW_DIR="$DATA/s3"
# Local-only credentials (the gateway listens on loopback); written to stack.env for the server and the tests.
S3_ACCESS_KEY="${S3_ACCESS_KEY:-parley-local}"
S3_SECRET_KEY="${S3_SECRET_KEY:-parley-local-secret}"

# versitygw_install — builds the gateway when the binary is missing or older than cmd/versitygw's files.
versitygw_install() {
  if [[ -x "$VERSITYGW_BIN" ]] && [[ -z "$(find "$VERSITYGW_SRC" -maxdepth 1 -type f \
        \( -name '*.go' -o -name go.mod -o -name go.sum \) -newer "$VERSITYGW_BIN" -print -quit)" ]]; then
    return 0
  fi
  command -v go >/dev/null || die "go is not installed (needed to build versitygw)"
  # About 80 s on two cores the first time; go.sum is committed complete (-mod=readonly resolves nothing).
  (cd "$VERSITYGW_SRC" && GOWORK=off go build -mod=readonly -trimpath -o "$VERSITYGW_BIN.tmp" \
      github.com/versity/versitygw/cmd/versitygw) && mv -f "$VERSITYGW_BIN.tmp" "$VERSITYGW_BIN"
}

_versitygw_alive() {
  [[ "$(cat "/proc/$1/comm" 2>/dev/null)" == versitygw ]] && ! grep -q '^State:.*zombie' "/proc/$1/status" 2>/dev/null
}
_versitygw_running() { pid_alive "$VERSITYGW_PID" && _versitygw_alive "$(cat "$VERSITYGW_PID")"; }

# versitygw_ready — an S3 answer: an unsigned GET of the service is refused by the gateway with an S3 XML error
# (403), which only a running gateway sends.
versitygw_ready() {
  curl -s --max-time 2 "http://127.0.0.1:$S3_PORT/" 2>/dev/null | grep -q '<Error>'
}

versitygw_start() {
  [[ -x "$VERSITYGW_BIN" ]] || versitygw_install || return 1
  if _versitygw_running; then
    if versitygw_ready; then
      log "versitygw already running on 127.0.0.1:$S3_PORT"
      return 0
    fi
    warn "versitygw (pid $(cat "$VERSITYGW_PID")) is not answering; restarting it"
    versitygw_stop
  elif [[ -f "$VERSITYGW_PID" ]]; then
    warn "removing stale versitygw pid file (the process is gone)"
  elif versitygw_ready; then
    warn "something not started by this script already answers on 127.0.0.1:$S3_PORT; using it"
    return 0
  fi
  rm -f "$VERSITYGW_PID"
  mkdir -p "$VERSITYGW_DIR"
  printf '=== %s starting versitygw on 127.0.0.1:%s\n' "$(date -Is)" "$S3_PORT" >>"$VERSITYGW_LOG"
  # The posix backend keeps object metadata (content type) in extended attributes of the files under $DATA/s3.
  ROOT_ACCESS_KEY="$S3_ACCESS_KEY" ROOT_SECRET_KEY="$S3_SECRET_KEY" \
  setsid -f bash -c 'echo $$ >"$0"; exec "$@"' "$VERSITYGW_PID" \
    nohup "$VERSITYGW_BIN" --port "127.0.0.1:$S3_PORT" --quiet posix "$VERSITYGW_DIR" \
    >>"$VERSITYGW_LOG" 2>&1 </dev/null
  sleep 0.3
  if ! _versitygw_running; then
    show_log_tail "$VERSITYGW_LOG"
    printf '\033[1;31merror:\033[0m versitygw exited right after starting\n' >&2
    rm -f "$VERSITYGW_PID"
    return 1
  fi
  wait_until 30 "$VERSITYGW_LOG" versitygw versitygw_ready
}

versitygw_stop() {
  if ! _versitygw_running; then rm -f "$VERSITYGW_PID"; return 0; fi
  local pid i; pid="$(cat "$VERSITYGW_PID")"
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do _versitygw_alive "$pid" || break; sleep 0.1; done
  if _versitygw_alive "$pid"; then
    warn "versitygw (pid $pid) did not stop within 5s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$VERSITYGW_PID"
}

versitygw_status() {
  if _versitygw_running && versitygw_ready; then echo "versitygw: ready on 127.0.0.1:$S3_PORT (pid $(cat "$VERSITYGW_PID"))"
  elif _versitygw_running; then echo "versitygw: running (pid $(cat "$VERSITYGW_PID")) but not answering on 127.0.0.1:$S3_PORT"
  elif versitygw_ready; then echo "versitygw: something not started by this script answers on 127.0.0.1:$S3_PORT"
  else echo "versitygw: not running"; fi
}

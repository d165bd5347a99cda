# Prometheus (Debian package), on request only: `make run PROMETHEUS=1` (or PROMETHEUS=1 scripts/stack.sh up)
# starts it on 127.0.0.1:$PROMETHEUS_PORT, scraping the server's /metrics every 5 s, data under $DATA/prometheus.
# Not part of `make test`. Sourced by scripts/stack.sh after lib.sh.
#
# Settings (environment): PROMETHEUS_PORT (default 59090), PROMETHEUS_TARGETS (comma-separated host:port of the
# servers to scrape; default 127.0.0.1:8080, the `make run` server), PROMETHEUS_RETENTION (default 7d).

PROMETHEUS_PORT="${PROMETHEUS_PORT:-59090}"
PROMETHEUS_TARGETS="${PROMETHEUS_TARGETS:-127.0.0.1:8080}"
PROMETHEUS_RETENTION="${PROMETHEUS_RETENTION:-7d}"
PROMETHEUS_HOME="$LOCAL/prometheus"               # the rendered configuration
PROMETHEUS_DATA="$DATA/prometheus"
PROMETHEUS_LOG="$LOGS/prometheus.log"
PROMETHEUS_PID="$RUNDIR/prometheus.pid"

prometheus_install() {
  # The Debian package's maintainer script enables a systemd unit; without systemd that is a no-op, and the
  # unit's own server is never used: ours runs on loopback with the configuration below.
  command -v prometheus >/dev/null || apt_install prometheus
}

prometheus_ready() { curl -fsS -o /dev/null "http://127.0.0.1:$PROMETHEUS_PORT/-/ready"; }

_prometheus_running() { pid_alive "$PROMETHEUS_PID"; }

_prometheus_config() {
  mkdir -p "$PROMETHEUS_HOME"
  local targets="" t
  local -a _targets
  IFS=, read -ra _targets <<<"$PROMETHEUS_TARGETS"
  for t in "${_targets[@]}"; do targets+="\"$t\", "; done
  cat >"$PROMETHEUS_HOME/prometheus.yml" <<YAML
# Written by scripts/stack/prometheus.sh (PROMETHEUS_TARGETS=$PROMETHEUS_TARGETS); edits are overwritten.
global:
  scrape_interval: 5s
scrape_configs:
  - job_name: parley
    metrics_path: /metrics
    static_configs:
      - targets: [${targets%, }]
YAML
}

prometheus_start() {
  _prometheus_config
  if prometheus_ready 2>/dev/null; then
    # Pick up a changed PROMETHEUS_TARGETS without a restart.
    _prometheus_running && kill -HUP "$(cat "$PROMETHEUS_PID")" 2>/dev/null || true
    log "prometheus already running on http://127.0.0.1:$PROMETHEUS_PORT"
    return 0
  fi
  if port_busy "$PROMETHEUS_PORT"; then
    echo "port $PROMETHEUS_PORT is already used by a process that is not a ready Prometheus; stop it or set PROMETHEUS_PORT" >&2
    return 1
  fi
  mkdir -p "$PROMETHEUS_DATA"
  printf '=== %s starting prometheus on 127.0.0.1:%s\n' "$(date -Is)" "$PROMETHEUS_PORT" >>"$PROMETHEUS_LOG"
  # setsid -f: its own session, so it outlives this shell (as ferretdb.sh and cassandra.sh do).
  setsid -f bash -c 'echo $$ >"$0"; exec "$@"' "$PROMETHEUS_PID" \
    nohup prometheus --config.file="$PROMETHEUS_HOME/prometheus.yml" --storage.tsdb.path="$PROMETHEUS_DATA" \
    --storage.tsdb.retention.time="$PROMETHEUS_RETENTION" --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" \
    >>"$PROMETHEUS_LOG" 2>&1 </dev/null
  sleep 0.3
  if ! _prometheus_running; then
    show_log_tail "$PROMETHEUS_LOG"
    printf '\033[1;31merror:\033[0m prometheus exited right after starting\n' >&2
    rm -f "$PROMETHEUS_PID"
    return 1
  fi
  wait_until 60 "$PROMETHEUS_LOG" prometheus prometheus_ready
  log "prometheus: http://127.0.0.1:$PROMETHEUS_PORT (scraping $PROMETHEUS_TARGETS)"
}

prometheus_stop() {
  if ! _prometheus_running; then rm -f "$PROMETHEUS_PID"; return 0; fi
  local pid i; pid="$(cat "$PROMETHEUS_PID")"
  kill -TERM "$pid" 2>/dev/null || true          # Prometheus writes its head block and exits
  for i in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    warn "prometheus (pid $pid) did not stop within 15s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PROMETHEUS_PID"
}

prometheus_status() {
  if _prometheus_running && prometheus_ready 2>/dev/null; then
    echo "prometheus: ready on http://127.0.0.1:$PROMETHEUS_PORT (pid $(cat "$PROMETHEUS_PID"), scraping $PROMETHEUS_TARGETS)"
  elif _prometheus_running; then
    echo "prometheus: running (pid $(cat "$PROMETHEUS_PID")) but not ready; see $PROMETHEUS_LOG"
  else
    echo "prometheus: not running (start it with make run PROMETHEUS=1)"
  fi
}

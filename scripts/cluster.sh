#!/usr/bin/env bash
# A Parley cluster on this machine: N server nodes behind HAProxy, a three-node Cassandra 5.0 on the loopback
# aliases 127.0.0.2-127.0.0.4, and the single-node stack's PostgreSQL, Redis and FerretDB (scripts/stack.sh).
# All state lives under .local/cluster/ (Cassandra data, logs, pid files, the rendered configs, the shared secrets).
#
#   scripts/cluster.sh up [--nodes N]   start (or reuse) everything, N server nodes (default 3); prints the URL
#   scripts/cluster.sh down             stop the server nodes, HAProxy and the three Cassandra nodes
#   scripts/cluster.sh clean-data       down, then delete .local/cluster/ and the cluster's PostgreSQL database
#   scripts/cluster.sh status           one line per process; exit 1 if something that should run does not
#   scripts/cluster.sh check            end-to-end checks: /readyz of each node through HAProxy, all Cassandra nodes
#                                       UN, keyspace RF 3, socket.io long-polling clients stick (~35 s), and
#                                       messages sent on node 1 reach sockets on nodes 2 and 3 in order
#   scripts/cluster.sh check-webapp     two users in Chromium through HAProxy chat both ways in the web app
#   scripts/cluster.sh env I            the environment of server node I, one KEY=VALUE per line, unquoted (like
#                                       env(1)), so a test can start a node itself
# Chaos helpers (each prints what it did; only start-node and start-cassandra wait, until the process answers):
#   kill-node I | start-node I | stop-node I (SIGSTOP) | cont-node I (SIGCONT)
#   kill-cassandra K | start-cassandra K  (K = 1..3, kill -9 / start and wait for CQL)
#   freeze-redis | thaw-redis              (SIGSTOP / SIGCONT of the local redis-server)
# Also: nodetool K ARGS... (nodetool against Cassandra node K), help (this text).
#
# Settings (environment): CLUSTER_PUBLIC_ADDR (HAProxy, default 127.0.0.1:8090), CLUSTER_STATS_ADDR (HAProxy's
# stats page, default 127.0.0.1:8091), CLUSTER_HTTP_BASE (node I listens on 127.0.0.1:BASE+I, default 8100),
# CLUSTER_INTERNAL_BASE (node I's internal listener, default 9100), CLUSTER_CASSANDRA_HEAP (default 512M),
# CLUSTER_HAPROXY_LOG (errors = only failed requests, the default; all = every request), CLUSTER_SKIP_BUILD=1 (use
# the server binary and web app as they are). Any other PARLEY_* variable in the environment of `up` or
# `start-node` reaches the nodes (e.g. PARLEY_FLUSH_DELAY=2s for a chaos test); the cluster's own settings win.
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=scripts/stack/postgres.sh
source "$ROOT/scripts/stack/postgres.sh"
# shellcheck source=scripts/stack/redis.sh
source "$ROOT/scripts/stack/redis.sh"
# shellcheck source=scripts/stack/ferretdb.sh
source "$ROOT/scripts/stack/ferretdb.sh"
# shellcheck source=scripts/stack/cassandra.sh
source "$ROOT/scripts/stack/cassandra.sh"

# The physical path: worktrees link .local to the main checkout's, and the pid checks compare command lines, so a
# cluster started from one checkout must look the same from another.
CLUSTER="$(cd "$LOCAL" && pwd -P)/cluster"
CL_LOGS="$CLUSTER/logs"
CL_RUN="$CLUSTER/run"
CL_BIN="$CLUSTER/bin"
mkdir -p "$CL_LOGS" "$CL_RUN" "$CL_BIN"

CLUSTER_PUBLIC_ADDR="${CLUSTER_PUBLIC_ADDR:-127.0.0.1:8090}"
CLUSTER_STATS_ADDR="${CLUSTER_STATS_ADDR:-127.0.0.1:8091}"
CLUSTER_HTTP_BASE="${CLUSTER_HTTP_BASE:-8100}"
CLUSTER_INTERNAL_BASE="${CLUSTER_INTERNAL_BASE:-9100}"
CLUSTER_HAPROXY_LOG="${CLUSTER_HAPROXY_LOG:-errors}"
CLUSTER_PG_DB="${CLUSTER_PG_DB:-parley_cluster}"
CLUSTER_MONGO_DB="${CLUSTER_MONGO_DB:-parley_cluster}"
CLUSTER_KEYSPACE="${CLUSTER_KEYSPACE:-parley}"
CLUSTER_REDIS_PREFIX="${CLUSTER_REDIS_PREFIX:-parley-local-cluster}"   # the stack's Redis is shared with tests
NODE_START_TIMEOUT="${NODE_START_TIMEOUT:-120}"
NODE_STOP_TIMEOUT="${NODE_STOP_TIMEOUT:-30}"   # above the server's PARLEY_SHUTDOWN_TIMEOUT (20 s): it flushes first

# The three Cassandra nodes: node K on 127.0.0.(K+1), CQL 19042 and storage 17000 on each address (Linux routes
# all of 127.0.0.0/8 to lo), JMX on 127.0.0.1:17200+K. One token each, evenly spaced over Murmur3's range.
CN_COUNT=3
CN_CQL_PORT="${CLUSTER_CASSANDRA_PORT:-19042}"
CN_STORAGE_PORT="${CLUSTER_CASSANDRA_STORAGE_PORT:-17000}"
CN_JMX_BASE="${CLUSTER_CASSANDRA_JMX_BASE:-17200}"
CN_HEAP="${CLUSTER_CASSANDRA_HEAP:-512M}"
CN_TOKENS=(-9223372036854775808 -3074457345618258603 3074457345618258602)
CN_START_TIMEOUT="${CLUSTER_CASSANDRA_START_TIMEOUT:-240}"
CN_STOP_TIMEOUT="${CLUSTER_CASSANDRA_STOP_TIMEOUT:-60}"

HAP_CFG="$CLUSTER/haproxy.cfg"
HAP_PID="$CL_RUN/haproxy.pid"
HAP_LOG="$CL_LOGS/haproxy.log"

# ---- small helpers -----------------------------------------------------------------------------------------

_rss() { local kb; kb="$(ps -o rss= -p "$1" 2>/dev/null | tr -d ' ')"; [[ -n "$kb" ]] && echo "$(( kb / 1024 )) MiB" || echo "?"; }
_pstate() { awk '{print $3}' "/proc/$1/stat" 2>/dev/null; }   # R, S, T (stopped), Z ...

# _pid_of PIDFILE PATTERN — prints the pid in PIDFILE if that process runs and its command line contains PATTERN
# (a stale pid file, or a pid reused by another process, does not count).
_pid_of() {
  [[ -f "$1" ]] || return 1
  local pid; pid="$(cat "$1" 2>/dev/null)"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2" || return 1
  [[ "$(_pstate "$pid")" != Z ]] || return 1
  echo "$pid"
}

# _launch PIDFILE LOGFILE DIR command... — starts command in its own session (it outlives this shell), with the
# pid of the exec'ed command in PIDFILE.
_launch() {
  local pidfile="$1" logfile="$2" dir="$3"; shift 3
  rm -f "$pidfile"
  # shellcheck disable=SC2016 # $$, $0 and $@ belong to the inner bash
  (cd "$dir" && setsid -f bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" </dev/null >>"$logfile" 2>&1)
  local i
  for i in $(seq 1 50); do [[ -s "$pidfile" ]] && return 0; sleep 0.1; done
  return 1
}

# _stop_pid PID NAME TIMEOUT — SIGTERM (and SIGCONT, in case it was SIGSTOPped), SIGKILL after TIMEOUT seconds.
_stop_pid() {
  local pid="$1" name="$2" timeout="$3"
  kill -TERM "$pid" 2>/dev/null || true
  kill -CONT "$pid" 2>/dev/null || true
  local deadline=$(( $(date +%s) + timeout ))
  while kill -0 "$pid" 2>/dev/null && [[ "$(_pstate "$pid")" != Z ]] && (( $(date +%s) < deadline )); do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null && [[ "$(_pstate "$pid")" != Z ]]; then
    warn "$name (pid $pid) did not stop within ${timeout}s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
}

_check_index() { # _check_index VALUE MAX WHAT
  if [[ "$1" =~ ^[0-9]+$ ]] && (( $1 >= 1 && $1 <= $2 )); then return 0; fi
  die "$3 must be 1..$2, not '${1:-}'"
}

# ---- the three-node Cassandra ------------------------------------------------------------------------------

cn_addr() { echo "127.0.0.$(( $1 + 1 ))"; }
cn_dir() { echo "$CLUSTER/cassandra-$1"; }
cn_pidfile() { echo "$CL_RUN/cassandra-$1.pid"; }
cn_logdir() { echo "$CL_LOGS/cassandra-$1"; }
cn_jmx() { echo $(( CN_JMX_BASE + $1 )); }
cn_pid() { _pid_of "$(cn_pidfile "$1")" "-Dcassandra.config=file://$(cn_dir "$1")/conf/cassandra.yaml"; }
cn_ready() { "$CQLPING" -timeout 5s "$(cn_addr "$1"):$CN_CQL_PORT" 'SELECT release_version FROM system.local' >/dev/null 2>&1; }
cn_hosts() { local k out=(); for k in $(seq 1 "$CN_COUNT"); do out+=("$(cn_addr "$k"):$CN_CQL_PORT"); done; (IFS=,; echo "${out[*]}"); }

# cn_render K — cassandra.yaml for node K from the single node's template (scripts/cassandra/cassandra.yaml.tmpl,
# so durability and thread settings stay the same), with the node's address, token and the shared seed.
cn_render() {
  local k="$1" dir addr seed conf
  dir="$(cn_dir "$k")"; addr="$(cn_addr "$k")"; seed="$(cn_addr 1)"; conf="$dir/conf"
  mkdir -p "$conf" "$dir/triggers" "$dir"/{data,commitlog,hints,saved_caches,cdc_raw} "$(cn_logdir "$k")"
  sed -e "s|@CASSANDRA_PORT@|$CN_CQL_PORT|g" \
      -e "s|@CASSANDRA_STORAGE_PORT@|$CN_STORAGE_PORT|g" \
      -e "s|@CASSANDRA_DATA@|$dir|g" \
      -e "s|@CASSANDRA_GROUP_WINDOW@|$CASSANDRA_GROUP_WINDOW|g" \
      -e "s|@CASSANDRA_MEMTABLE_ALLOCATION@|$CASSANDRA_MEMTABLE_ALLOCATION|g" \
      -e "s|^cluster_name:.*|cluster_name: parley-cluster|" \
      -e "s|^initial_token:.*|initial_token: ${CN_TOKENS[$((k - 1))]}|" \
      -e "s|^listen_address:.*|listen_address: $addr|" \
      -e "s|^rpc_address:.*|rpc_address: $addr|" \
      -e "s|- seeds:.*|- seeds: \"$seed:$CN_STORAGE_PORT\"|" \
      "$CASSANDRA_SRC/cassandra.yaml.tmpl" >"$conf/cassandra.yaml.tmp"
  {
    echo
    echo "# Added by scripts/cluster.sh for node $k of the three-node cluster: the token above is fixed, so no"
    echo "# bootstrap (streaming) is needed when the nodes of a fresh cluster start together."
    echo "auto_bootstrap: false"
  } >>"$conf/cassandra.yaml.tmp"
  local want
  for want in "cluster_name: parley-cluster" "num_tokens: 1" "initial_token: ${CN_TOKENS[$((k - 1))]}" \
      "listen_address: $addr" "rpc_address: $addr" "- seeds: \"$seed:$CN_STORAGE_PORT\"" "commitlog_sync: group" \
      "endpoint_snitch: SimpleSnitch" "native_transport_port: $CN_CQL_PORT" "storage_port: $CN_STORAGE_PORT"; do
    grep -qF -- "$want" "$conf/cassandra.yaml.tmp" \
      || { echo "cassandra.yaml.tmpl changed: '$want' is missing from the rendered config of node $k" >&2; return 1; }
  done
  mv -f "$conf/cassandra.yaml.tmp" "$conf/cassandra.yaml"
  cp -f "$CASSANDRA_SRC/logback.xml" "$conf/logback.xml"
  cp -f "$CASSANDRA_CONF/logback-tools.xml" "$conf/logback-tools.xml" 2>/dev/null || cat >"$conf/logback-tools.xml" <<'XML'
<configuration><appender name="STDERR" class="ch.qos.logback.core.ConsoleAppender"><target>System.err</target>
<encoder><pattern>%-5level %msg%n</pattern></encoder></appender><root level="WARN"><appender-ref ref="STDERR"/></root></configuration>
XML
}

# cn_launch K — starts node K (returns once the JVM runs; cn_wait waits for CQL).
cn_launch() {
  local k="$1" pid java dir logdir
  if pid="$(cn_pid "$k")"; then log "cassandra-$k already running (pid $pid)"; return 0; fi
  dir="$(cn_dir "$k")"; logdir="$(cn_logdir "$k")"
  if cn_ready "$k"; then
    echo "something else answers CQL on $(cn_addr "$k"):$CN_CQL_PORT (not cassandra-$k from $dir)" >&2; return 1
  fi
  java="$(_cassandra_java)" || { echo "no Java 17: run scripts/stack.sh up once" >&2; return 1; }
  cn_render "$k" || return 1
  local args=(
    -Xms"$CN_HEAP" -Xmx"$CN_HEAP" -Xss256k -XX:MaxGCPauseMillis="$CASSANDRA_GC_PAUSE_MS"
    -XX:+PerfDisableSharedMem -XX:+CrashOnOutOfMemoryError -XX:ErrorFile="$logdir/hs_err_%p.log"
    "-Xlog:gc=info:file=$logdir/gc.log:time,uptime:filecount=2,filesize=10M"
    "${_CASSANDRA_JVM17_OPTS[@]}"
    -Djava.net.preferIPv4Stack=true
    -javaagent:"$(compgen -G "$CASSANDRA_LIB/jamm-*.jar" | head -n1)"
    -Dcassandra-foreground=yes
    -Dcassandra.config="file://$dir/conf/cassandra.yaml"
    -Dcassandra.storagedir="$dir"
    -Dcassandra.logdir="$logdir"
    -Dcassandra.triggers_dir="$dir/triggers"
    -Dlogback.configurationFile="$dir/conf/logback.xml"
    -Dcassandra.jmx.local.port="$(cn_jmx "$k")"
    -Dcom.sun.management.jmxremote.rmi.port="$(cn_jmx "$k")"
    # Fixed tokens and auto_bootstrap: false, so nothing to settle. NOT superuser_setup_delay_ms=0 here: with
    # peers down, the seed retried the superuser setup in a tight loop (323 MB of log, a 92 s start).
    -Dcassandra.skip_wait_for_gossip_to_settle=0
    -cp "$dir/conf:$CASSANDRA_LIB/*"
    org.apache.cassandra.service.CassandraDaemon
  )
  printf '\n=== %s starting cassandra-%s ===\n' "$(date -Is)" "$k" >>"$logdir/cassandra.out"
  _launch "$(cn_pidfile "$k")" "$logdir/cassandra.out" "$dir" "$java" "${args[@]}" \
    || { show_log_tail "$logdir/cassandra.out"; echo "cassandra-$k did not start" >&2; return 1; }
  log "cassandra-$k launched on $(cn_addr "$k"):$CN_CQL_PORT (pid $(cat "$(cn_pidfile "$k")"), heap $CN_HEAP, JMX 127.0.0.1:$(cn_jmx "$k"))"
}

# cn_wait K... — waits until each node answers CQL; fails at once if one of them exits.
cn_wait() {
  local start deadline k pending
  start="$(_ts)"; deadline=$(( $(date +%s) + CN_START_TIMEOUT ))
  pending=("$@")
  while (( ${#pending[@]} > 0 )); do
    local still=()
    for k in "${pending[@]}"; do
      if ! cn_pid "$k" >/dev/null; then
        show_log_tail "$(cn_logdir "$k")/cassandra.log"; show_log_tail "$(cn_logdir "$k")/cassandra.out"
        echo "cassandra-$k exited while starting (logs in $(cn_logdir "$k"))" >&2; return 1
      fi
      if cn_ready "$k"; then log "cassandra-$k answers CQL ($(_elapsed "$start"))"; else still+=("$k"); fi
    done
    pending=("${still[@]+"${still[@]}"}")
    (( ${#pending[@]} == 0 )) && break
    if (( $(date +%s) >= deadline )); then
      for k in "${pending[@]}"; do show_log_tail "$(cn_logdir "$k")/cassandra.log"; done
      echo "cassandra node(s) ${pending[*]} not answering CQL after ${CN_START_TIMEOUT}s" >&2; return 1
    fi
    sleep 1
  done
}

# cn_nodetool K ARGS... — nodetool against node K over its loopback JMX port.
cn_nodetool() {
  local k="$1"; shift
  local java; java="$(_cassandra_java)" || return 1
  "$java" -Xmx128m -XX:TieredStopAtLevel=1 "${_CASSANDRA_JVM17_OPTS[@]}" -Dcassandra.storagedir="$(cn_dir "$k")" \
    -Dlogback.configurationFile="$(cn_dir "$k")/conf/logback-tools.xml" -cp "$(cn_dir "$k")/conf:$CASSANDRA_LIB/*" \
    org.apache.cassandra.tools.NodeTool -h 127.0.0.1 -p "$(cn_jmx "$k")" "$@"
}

# cn_all_up — true when node 1's view (nodetool status) shows all three nodes Up/Normal.
cn_all_up() {
  local out; out="$(cn_nodetool 1 status 2>/dev/null)" || return 1
  (( $(grep -cE '^UN ' <<<"$out") == CN_COUNT ))
}

cn_stop() {
  local k="$1" pid
  if pid="$(cn_pid "$k")"; then
    # SIGTERM runs Cassandra's shutdown hook: it announces the shutdown to the peers, flushes and closes the log.
    _stop_pid "$pid" "cassandra-$k" "$CN_STOP_TIMEOUT"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    log "cassandra-$k stopped"
  fi
  rm -f "$(cn_pidfile "$k")"
}

cassandra_cluster_up() {
  local start k; start="$(_ts)"
  cn_launch 1 || return 1
  cn_wait 1 || return 1        # peers gossip with the seed; starting them before it answers only costs retries
  for k in $(seq 2 "$CN_COUNT"); do cn_launch "$k" || return 1; done
  # shellcheck disable=SC2046
  cn_wait $(seq 2 "$CN_COUNT") || return 1
  wait_until 120 "$(cn_logdir 1)/cassandra.log" "all $CN_COUNT cassandra nodes Up/Normal (nodetool status)" cn_all_up || return 1
  log "three-node cassandra ready in $(_elapsed "$start") on $(cn_hosts)"
}

cassandra_cluster_down() {
  local k pids=()
  for k in $(seq 1 "$CN_COUNT"); do cn_stop "$k" & pids+=("$!"); done
  local p; for p in "${pids[@]}"; do wait "$p" || true; done
}

# ---- server nodes --------------------------------------------------------------------------------------------

sn_http() { echo "127.0.0.1:$(( CLUSTER_HTTP_BASE + $1 ))"; }
sn_internal() { echo "127.0.0.1:$(( CLUSTER_INTERNAL_BASE + $1 ))"; }
sn_pidfile() { echo "$CL_RUN/node-$1.pid"; }
sn_log() { echo "$CL_LOGS/node-$1.log"; }
sn_pid() { _pid_of "$(sn_pidfile "$1")" "$CL_BIN/parley"; }
sn_ready() { [[ "$(curl -s -o /dev/null -m 3 -w '%{http_code}' "http://$(sn_http "$1")/readyz" 2>/dev/null)" == 200 ]]; }

# Nodes that exist: the count of the last `up`, and any node with a pid file (started by start-node).
sn_count() { cat "$CLUSTER/nodes" 2>/dev/null || echo 3; }
sn_known() {
  local n i f; n="$(sn_count)"
  { seq 1 "$n"; for f in "$CL_RUN"/node-*.pid; do [[ -e "$f" ]] || continue; i="${f##*/node-}"; echo "${i%.pid}"; done; } | sort -nu
}

secrets_ensure() {
  local f="$CLUSTER/secrets.env"
  [[ -s "$f" ]] && return 0
  ( umask 077
    { echo "PARLEY_JWT_SECRET=$(openssl rand -hex 32)"; echo "PARLEY_CLUSTER_SECRET=$(openssl rand -hex 32)"; } >"$f.tmp" )
  mv -f "$f.tmp" "$f"
}

# sn_env I — node I's environment, one KEY=VALUE per line, unquoted.
sn_env() {
  local i="$1" origin="http://$CLUSTER_PUBLIC_ADDR"
  secrets_ensure
  cat <<ENV
PARLEY_HTTP_ADDR=$(sn_http "$i")
PARLEY_NODE_ID=$i
PARLEY_CLUSTER_ADDR=$(sn_internal "$i")
PARLEY_CLUSTER_ADVERTISE=$(sn_internal "$i")
$(cat "$CLUSTER/secrets.env")
PARLEY_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0
PARLEY_REDIS_PREFIX=$CLUSTER_REDIS_PREFIX
PARLEY_POSTGRES_URL=postgres://postgres@127.0.0.1:$PG_PORT/$CLUSTER_PG_DB?sslmode=disable
PARLEY_MONGO_URI=mongodb://127.0.0.1:$FERRETDB_PORT/
PARLEY_MONGO_DATABASE=$CLUSTER_MONGO_DB
PARLEY_CASSANDRA_HOSTS=$(cn_hosts)
PARLEY_CASSANDRA_KEYSPACE=$CLUSTER_KEYSPACE
PARLEY_CASSANDRA_REPLICATION={'class': 'SimpleStrategy', 'replication_factor': 3}
PARLEY_CASSANDRA_CONSISTENCY=LOCAL_QUORUM
PARLEY_PUBLIC_ORIGIN=$origin
PARLEY_ALLOWED_ORIGINS=${origin/127.0.0.1/localhost}
PARLEY_TRUSTED_PROXIES=127.0.0.1
PARLEY_STATIC_DIR=$ROOT/frontend/dist
PARLEY_DATA_DIR=$CLUSTER/node-$i
PARLEY_STORAGE_DIR=$CLUSTER/files
ENV
}

sn_launch() {
  local i="$1" pid
  if pid="$(sn_pid "$i")"; then log "node $i already running (pid $pid)"; return 0; fi
  [[ -x "$CL_BIN/parley" ]] || { echo "no server binary in $CL_BIN: run scripts/cluster.sh up" >&2; return 1; }
  local port; port="$(sn_http "$i")"; port="${port##*:}"
  if port_busy "$port"; then echo "port $port (node $i) is already used by another process" >&2; return 1; fi
  mkdir -p "$CLUSTER/node-$i"
  sn_env "$i" >"$CLUSTER/node-$i.env"
  printf '\n=== %s starting node %s ===\n' "$(date -Is)" "$i" >>"$(sn_log "$i")"
  # The node's settings are exported on top of this shell's environment (other PARLEY_* variables pass through).
  (
    while IFS= read -r line; do [[ -n "$line" ]] && export "${line?}"; done <"$CLUSTER/node-$i.env"
    _launch "$(sn_pidfile "$i")" "$(sn_log "$i")" "$ROOT" "$CL_BIN/parley"
  ) || { show_log_tail "$(sn_log "$i")"; echo "node $i did not start" >&2; return 1; }
  log "node $i launched on http://$(sn_http "$i") (pid $(cat "$(sn_pidfile "$i")"), internal $(sn_internal "$i"), log $(sn_log "$i"))"
}

sn_wait() {
  local start deadline i pending
  start="$(_ts)"; deadline=$(( $(date +%s) + NODE_START_TIMEOUT ))
  pending=("$@")
  while (( ${#pending[@]} > 0 )); do
    local still=()
    for i in "${pending[@]}"; do
      if ! sn_pid "$i" >/dev/null; then
        show_log_tail "$(sn_log "$i")"; echo "node $i exited while starting (log $(sn_log "$i"))" >&2; return 1
      fi
      if sn_ready "$i"; then log "node $i ready: /readyz 200 ($(_elapsed "$start"))"; else still+=("$i"); fi
    done
    pending=("${still[@]+"${still[@]}"}")
    (( ${#pending[@]} == 0 )) && break
    if (( $(date +%s) >= deadline )); then
      for i in "${pending[@]}"; do show_log_tail "$(sn_log "$i")"; done
      echo "node(s) ${pending[*]} not ready after ${NODE_START_TIMEOUT}s" >&2; return 1
    fi
    sleep 0.3
  done
}

sn_start_wait() { sn_launch "$1" && sn_wait "$1"; }

sn_stop() {
  local i="$1" pid
  if pid="$(sn_pid "$i")"; then
    _stop_pid "$pid" "node $i" "$NODE_STOP_TIMEOUT"
    while kill -0 "$pid" 2>/dev/null && [[ "$(_pstate "$pid")" != Z ]]; do sleep 0.1; done
    log "node $i stopped"
  fi
  rm -f "$(sn_pidfile "$i")"
}

# build — the web app when its sources changed, the server binary (go build is incremental), then the copy the
# nodes run ($CL_BIN/parley), replaced only while no node runs so that every node runs the same build.
build() {
  if [[ "${CLUSTER_SKIP_BUILD:-}" == 1 ]]; then
    [[ -x "$CL_BIN/parley" ]] || cp -f "$ROOT/bin/parley" "$CL_BIN/parley"
    return 0
  fi
  "$ROOT/scripts/deps.sh" go frontend
  if [[ ! -f "$ROOT/frontend/dist/index.html" ]] || [[ -n "$(find "$ROOT/frontend/src" "$ROOT/frontend/index.html" "$ROOT/frontend/package-lock.json" -newer "$ROOT/frontend/dist/index.html" -print -quit)" ]]; then
    step "building the front end" bash -c "cd '$ROOT/frontend' && npm run build --silent"
  else
    log "front end is up to date (frontend/dist)"
  fi
  mkdir -p "$ROOT/bin"
  step "building the server" bash -c "cd '$ROOT' && go build -trimpath -o bin/parley ./cmd/server"
  if cmp -s "$ROOT/bin/parley" "$CL_BIN/parley"; then return 0; fi
  local i
  for i in $(sn_known); do
    if sn_pid "$i" >/dev/null; then
      warn "the server binary changed, but node $i still runs the previous one: 'scripts/cluster.sh down' and 'up' to restart the nodes with it"
      return 0
    fi
  done
  cp -f "$ROOT/bin/parley" "$CL_BIN/parley.tmp" && mv -f "$CL_BIN/parley.tmp" "$CL_BIN/parley"
}

# ---- HAProxy -------------------------------------------------------------------------------------------------

hap_ready() { [[ "$(curl -s -o /dev/null -m 3 -w '%{http_code}' "http://$CLUSTER_PUBLIC_ADDR/readyz" 2>/dev/null)" == 200 ]]; }

haproxy_install() { command -v haproxy >/dev/null || apt_install haproxy; }

hap_pid() { _pid_of "$HAP_PID" "$HAP_CFG"; }

hap_render() {
  local n="$1" i
  local logopt="option dontlog-normal"
  [[ "$CLUSTER_HAPROXY_LOG" == all ]] && logopt="# every request is logged (CLUSTER_HAPROXY_LOG=all)"
  # Two descriptors per proxied connection, within this shell's open-files limit (HAProxy refuses more).
  local fds maxconn; fds="$(ulimit -n)"; [[ "$fds" =~ ^[0-9]+$ ]] || fds=20000
  maxconn=$(( (fds - 200) / 2 )); (( maxconn > 20000 )) && maxconn=20000
  cat <<CFG
# Rendered by scripts/cluster.sh ($n server nodes); edits are overwritten by the next 'up'.
global
  maxconn $maxconn
  log stdout format raw local0

defaults
  mode http
  log global
  option httplog
  $logopt
  option dontlognull
  # X-Forwarded-For with the client's address (the nodes trust it from 127.0.0.1: PARLEY_TRUSTED_PROXIES).
  option forwardfor
  # A request whose node is down (or refuses the connection) goes to another node, cookie or not.
  option redispatch
  retries 2
  timeout connect 3s
  timeout http-request 10s
  timeout http-keep-alive 10s
  # Long-polling holds a GET for up to Engine.IO's ping interval (25 s): client and server timeouts stay above it.
  timeout client 65s
  timeout server 65s
  # An upgraded WebSocket is a tunnel: idle up to an hour (Engine.IO pings every 25 s anyway).
  timeout tunnel 1h
  timeout client-fin 5s
  timeout check 2s

frontend public
  bind $CLUSTER_PUBLIC_ADDR
  # Only HAProxy's own X-Forwarded-For reaches the nodes: drop whatever the client sent.
  http-request del-header X-Forwarded-For
  default_backend parley

backend parley
  balance roundrobin
  # Sticky sessions: Engine.IO's long-polling sends every request of a session to the node that holds it
  # (round-robin fails with "Session ID unknown"). indirect: the cookie is not passed to the node; nocache: the
  # response that sets it is not cached by proxies.
  cookie SRV insert indirect nocache httponly
  option httpchk
  http-check send meth GET uri /readyz
  http-check expect status 200
  default-server inter 1s fastinter 500ms downinter 2s fall 2 rise 2
CFG
  for i in $(seq 1 "$n"); do
    echo "  server node$i $(sn_http "$i") check cookie node$i"
  done
  cat <<CFG

listen stats
  bind $CLUSTER_STATS_ADDR
  stats enable
  stats uri /
  stats refresh 5s
CFG
}

haproxy_up() {
  local n="$1" pid
  haproxy_install || return 1
  hap_render "$n" >"$HAP_CFG.new"
  haproxy -c -q -f "$HAP_CFG.new" || { echo "haproxy rejected $HAP_CFG.new" >&2; return 1; }
  if pid="$(hap_pid)"; then
    if cmp -s "$HAP_CFG.new" "$HAP_CFG"; then
      rm -f "$HAP_CFG.new"; log "haproxy already running on $CLUSTER_PUBLIC_ADDR (pid $pid)"; return 0
    fi
    mv -f "$HAP_CFG.new" "$HAP_CFG"
    # Master-worker mode: SIGUSR2 reloads the configuration (old connections finish on the old worker).
    kill -USR2 "$pid"
    log "haproxy (pid $pid) reloaded with $n nodes"
    return 0
  fi
  mv -f "$HAP_CFG.new" "$HAP_CFG"
  local port="${CLUSTER_PUBLIC_ADDR##*:}"
  if port_busy "$port"; then echo "port $port is already used by another process; set CLUSTER_PUBLIC_ADDR" >&2; return 1; fi
  printf '\n=== %s starting haproxy ===\n' "$(date -Is)" >>"$HAP_LOG"
  # -W: master-worker (reloads with SIGUSR2); -db: stays in the foreground, logging to the log file.
  _launch "$HAP_PID" "$HAP_LOG" "$CLUSTER" haproxy -W -db -f "$HAP_CFG" \
    || { show_log_tail "$HAP_LOG"; echo "haproxy did not start" >&2; return 1; }
  wait_until 10 "$HAP_LOG" "haproxy on $CLUSTER_PUBLIC_ADDR" port_busy "$port"
}

haproxy_down() {
  local pid
  if pid="$(hap_pid)"; then _stop_pid "$pid" haproxy 10; log "haproxy stopped"; fi
  rm -f "$HAP_PID"
}

# hap_servers — "node1 UP" lines from the stats page's CSV.
hap_servers() {
  curl -s -m 3 "http://$CLUSTER_STATS_ADDR/;csv" 2>/dev/null | awk -F, '$1 == "parley" && $2 != "BACKEND" { print $2, $18 }'
}

# ferretdb_shared_start — FerretDB is shared with whatever else uses the local stack (tests of other checkouts):
# if it runs, wait for it to answer instead of ferretdb_start's restart of a launcher that is slow to answer (under
# load a ping can take seconds, and a restart breaks everybody's connections).
ferretdb_shared_start() {
  if _ferretdb_running; then
    # Its ping also lists the databases, which gets slow with the hundreds that test runs leave behind: do not
    # wait long here (the nodes' /readyz checks MongoDB anyway).
    wait_until 15 /dev/null "ferretdb (running, shared)" ferretdb_ready 2>/dev/null \
      || warn "ferretdb runs but did not answer a ping within 15 s (busy?); going on, the nodes wait for it"
  else
    ferretdb_start
  fi
}

# ---- commands ------------------------------------------------------------------------------------------------

cmd_up() {
  local n=3
  while (( $# > 0 )); do
    case "$1" in
      --nodes) n="${2:-}"; shift 2 || die "--nodes needs a number" ;;
      --nodes=*) n="${1#*=}"; shift ;;
      *) die "usage: $0 up [--nodes N]" ;;
    esac
  done
  _check_index "$n" 64 "--nodes"
  local start; start="$(_ts)"
  step "installing postgres" postgres_install
  step "installing redis" redis_install
  step "installing cassandra (jars from Maven Central)" cassandra_install
  step "building ferretdb launcher" ferretdb_install
  step "installing haproxy" haproxy_install
  step "starting postgres" postgres_start
  step "creating database $CLUSTER_PG_DB" pg_ensure_db "$CLUSTER_PG_DB"
  step "starting redis" redis_start
  step "starting ferretdb" ferretdb_shared_start
  # The build runs while Cassandra starts (both take about a minute from nothing; most of Cassandra's is waiting).
  log "building the server and the web app in the background (log: $CL_LOGS/build.log)"
  local build_start build_pid build_rc=0; build_start="$(_ts)"
  build >"$CL_LOGS/build.log" 2>&1 &
  build_pid=$!
  if ! step "starting the three-node cassandra" cassandra_cluster_up; then kill "$build_pid" 2>/dev/null || true; exit 1; fi
  wait "$build_pid" || build_rc=$?
  if (( build_rc != 0 )); then show_log_tail "$CL_LOGS/build.log"; die "building the server or the web app failed"; fi
  grep -F 'warning:' "$CL_LOGS/build.log" >&2 || true
  log "server and web app built ($(_elapsed "$build_start") after the build started)"
  echo "$n" >"$CLUSTER/nodes"
  local i
  for i in $(sn_known); do
    if (( i > n )); then step "stopping node $i (beyond --nodes $n)" sn_stop "$i"; fi
  done
  # Node 1 first: it applies the migrations and creates the keyspace and tables; concurrent schema changes from
  # several coordinators can leave Cassandra with conflicting table ids.
  step "starting node 1" sn_start_wait 1
  if (( n > 1 )); then
    for i in $(seq 2 "$n"); do sn_launch "$i" || die "node $i did not start"; done
    # shellcheck disable=SC2046
    step "waiting for nodes 2-$n" sn_wait $(seq 2 "$n")
  fi
  step "starting haproxy" haproxy_up "$n"
  wait_until 30 "$HAP_LOG" "haproxy: /readyz through http://$CLUSTER_PUBLIC_ADDR" hap_ready
  log "cluster ready in $(_elapsed "$start"): http://$CLUSTER_PUBLIC_ADDR ($n nodes; HAProxy stats on http://$CLUSTER_STATS_ADDR/; 'scripts/cluster.sh status')"
  echo "http://$CLUSTER_PUBLIC_ADDR"
}

cmd_down() {
  local i pids=()
  step "stopping haproxy" haproxy_down
  for i in $(sn_known); do sn_stop "$i" & pids+=("$!"); done
  local p; for p in "${pids[@]}"; do wait "$p" || true; done
  step "stopping the three cassandra nodes" cassandra_cluster_down
  # A Redis left frozen by freeze-redis would hang everything else that uses the shared stack.
  local rp; rp="$(cat "$REDIS_PID" 2>/dev/null || true)"
  if [[ -n "$rp" && "$(_pstate "$rp")" == T ]]; then kill -CONT "$rp"; log "redis was frozen; thawed it"; fi
  log "cluster stopped (PostgreSQL, Redis and FerretDB keep running: 'make stop' stops them)"
}

cmd_clean_data() {
  cmd_down
  rm -rf "$CLUSTER"
  if postgres_ready; then pg_psql -d postgres -c "DROP DATABASE IF EXISTS \"$CLUSTER_PG_DB\"" >/dev/null || true; fi
  log "removed $CLUSTER and the PostgreSQL database $CLUSTER_PG_DB (the MongoDB database $CLUSTER_MONGO_DB is left)"
}

cmd_status() {
  local rc=0 k i pid state
  for k in $(seq 1 "$CN_COUNT"); do
    if pid="$(cn_pid "$k")"; then
      state="$(_pstate "$pid")"
      if [[ "$state" == T ]]; then echo "cassandra-$k $(cn_addr "$k"):$CN_CQL_PORT: STOPPED (SIGSTOP) pid $pid"; rc=1
      elif cn_ready "$k"; then echo "cassandra-$k $(cn_addr "$k"):$CN_CQL_PORT: ready (pid $pid, RSS $(_rss "$pid"))"
      else echo "cassandra-$k $(cn_addr "$k"):$CN_CQL_PORT: running, not answering CQL (pid $pid)"; rc=1; fi
    else
      echo "cassandra-$k $(cn_addr "$k"):$CN_CQL_PORT: not running"; rc=1
    fi
  done
  for k in $(seq 1 "$CN_COUNT"); do
    if cn_pid "$k" >/dev/null && cn_ready "$k"; then
      echo "  nodetool status (seen by cassandra-$k): $(cn_nodetool "$k" status 2>/dev/null | awk '/^[UD][NLJM] / { print $1, $2 }' | sort -k2 | paste -sd, - | sed 's/,/, /g')"
      break
    fi
  done
  for i in $(sn_known); do
    if pid="$(sn_pid "$i")"; then
      state="$(_pstate "$pid")"
      if [[ "$state" == T ]]; then echo "node $i http://$(sn_http "$i"): STOPPED (SIGSTOP) pid $pid"; rc=1
      elif sn_ready "$i"; then echo "node $i http://$(sn_http "$i"): ready (pid $pid, RSS $(_rss "$pid"))"
      else echo "node $i http://$(sn_http "$i"): running, /readyz not 200 (pid $pid)"; rc=1; fi
    else
      echo "node $i http://$(sn_http "$i"): not running"; rc=1
    fi
  done
  if pid="$(hap_pid)"; then
    echo "haproxy http://$CLUSTER_PUBLIC_ADDR: running (pid $pid); backends: $(hap_servers | tr '\n' ' ')"
  else
    echo "haproxy http://$CLUSTER_PUBLIC_ADDR: not running"; rc=1
  fi
  postgres_status || rc=1
  local rp; rp="$(cat "$REDIS_PID" 2>/dev/null || true)"
  if [[ -n "$rp" && "$(_pstate "$rp")" == T ]]; then echo "redis: FROZEN (SIGSTOP) pid $rp"; rc=1; else redis_status; fi
  ferretdb_status || true
  return "$rc"
}

# check — what `up` promises, end to end: every node answers /readyz 200 through HAProxy (the SRV cookie picks the
# node), all three Cassandra nodes are Up/Normal, the keyspace has replication factor 3, and socket.io clients on
# long-polling stay connected through HAProxy (scripts/cluster/sticky-check.mjs), and messages sent on node 1 reach
# sockets on nodes 2 and 3 in order (scripts/cluster/crossnode-check.mjs; needs the cluster mode of issue #14).
cmd_check() {
  local rc=0 i out
  for i in $(seq 1 "$(sn_count)"); do
    # With the cookie of a healthy node HAProxy sends the request there and sets no new cookie; a new SRV cookie
    # means it had to send it elsewhere.
    out="$(curl -s -o /dev/null -m 5 -w '%{http_code} %header{set-cookie}' -b "SRV=node$i" "http://$CLUSTER_PUBLIC_ADDR/readyz" || true)"
    echo "check: /readyz of node $i through http://$CLUSTER_PUBLIC_ADDR: ${out% }"
    [[ "$out" == "200 " ]] || rc=1
  done
  out="$(cn_nodetool 1 status 2>/dev/null | grep -cE '^UN ' || true)"
  echo "check: cassandra nodes Up/Normal (nodetool status on cassandra-1): ${out:-0} of $CN_COUNT"
  [[ "$out" == "$CN_COUNT" ]] || rc=1
  out="$("$CQLPING" "$(cn_addr 1):$CN_CQL_PORT" "SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = '$CLUSTER_KEYSPACE'" 2>&1 || true)"
  echo "check: keyspace $CLUSTER_KEYSPACE replication: ${out:-missing}"
  grep -q 'replication_factor:3' <<<"$out" || rc=1
  "$ROOT/scripts/deps.sh" jsclient >/dev/null
  node "$ROOT/scripts/cluster/sticky-check.mjs" "http://$CLUSTER_PUBLIC_ADDR" || rc=1
  node "$ROOT/scripts/cluster/crossnode-check.mjs" "http://$CLUSTER_PUBLIC_ADDR" "$(sn_count)" || rc=1
  if (( rc == 0 )); then log "check: all passed"; else warn "check: something failed (see above)"; fi
  return "$rc"
}

cmd_kill_node() {
  _check_index "${1:-}" 1023 "node"
  local pid; pid="$(sn_pid "$1")" || die "node $1 is not running"
  kill -KILL "$pid"
  echo "node $1: killed pid $pid with SIGKILL"
}

cmd_start_node() {
  _check_index "${1:-}" 1023 "node"
  local start; start="$(_ts)"
  cn_pid 1 >/dev/null || cn_pid 2 >/dev/null || cn_pid 3 >/dev/null || die "no cassandra node runs: scripts/cluster.sh up"
  sn_launch "$1" || exit 1
  sn_wait "$1" || exit 1
  echo "node $1: started, pid $(cat "$(sn_pidfile "$1")"), ready on http://$(sn_http "$1") in $(_elapsed "$start")"
}

cmd_signal_node() { # I SIGNAL verb
  _check_index "${1:-}" 1023 "node"
  local pid; pid="$(sn_pid "$1")" || die "node $1 is not running"
  kill -"$2" "$pid"
  echo "node $1: $3 pid $pid (SIG$2)"
}

cmd_kill_cassandra() {
  _check_index "${1:-}" "$CN_COUNT" "cassandra node"
  local pid; pid="$(cn_pid "$1")" || die "cassandra-$1 is not running"
  kill -KILL "$pid"
  echo "cassandra-$1 ($(cn_addr "$1")): killed pid $pid with SIGKILL"
}

cmd_start_cassandra() {
  _check_index "${1:-}" "$CN_COUNT" "cassandra node"
  local start; start="$(_ts)"
  [[ -x "$CQLPING" ]] || _cassandra_cqlping_build
  cn_launch "$1" || exit 1
  cn_wait "$1" || exit 1
  echo "cassandra-$1 ($(cn_addr "$1")): started, pid $(cat "$(cn_pidfile "$1")"), answers CQL after $(_elapsed "$start")"
}

cmd_redis_signal() { # SIGNAL verb
  local pid; pid="$(cat "$REDIS_PID" 2>/dev/null || true)"
  if ! [[ "$pid" =~ ^[0-9]+$ ]] || ! kill -0 "$pid" 2>/dev/null; then die "redis is not running (no pid in $REDIS_PID)"; fi
  kill -"$1" "$pid"
  echo "redis (127.0.0.1:$REDIS_PORT): $2 pid $pid (SIG$1)"
}

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  down|stop) cmd_down ;;
  status) cmd_status ;;
  clean-data) cmd_clean_data ;;
  check) cmd_check ;;
  check-webapp) node "$ROOT/scripts/cluster/webapp-check.mjs" "http://$CLUSTER_PUBLIC_ADDR" ;;
  env) _check_index "${2:-}" 1023 "node"; sn_env "$2" ;;
  kill-node) cmd_kill_node "${2:-}" ;;
  start-node) cmd_start_node "${2:-}" ;;
  stop-node) cmd_signal_node "${2:-}" STOP "stopped (frozen)" ;;
  cont-node) cmd_signal_node "${2:-}" CONT "resumed" ;;
  kill-cassandra) cmd_kill_cassandra "${2:-}" ;;
  start-cassandra) cmd_start_cassandra "${2:-}" ;;
  freeze-redis) cmd_redis_signal STOP "frozen" ;;
  thaw-redis) cmd_redis_signal CONT "thawed" ;;
  help|-h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" ;;
  nodetool) shift; _check_index "${1:-}" "$CN_COUNT" "cassandra node"; cn_nodetool "$@" ;;
  *) die "usage: $0 up [--nodes N] | down | clean-data | status | check | env I | kill-node I | start-node I | stop-node I | cont-node I | kill-cassandra K | start-cassandra K | freeze-redis | thaw-redis | nodetool K ARGS... | help" ;;
esac

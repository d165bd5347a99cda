# OpenSearch 2.19 (message search, issue #18), one node on 127.0.0.1:$OPENSEARCH_PORT (HTTP) /
# $OPENSEARCH_TRANSPORT_PORT, data under $DATA/opensearch. Maven Central has the server and its modules but no
# distribution: scripts/opensearch/pom.xml lists the jars, scripts/opensearch/Launcher.java (compiled here with
# javac) starts a node with the Netty and analysis modules as classpath plugins. No security plugin: loopback only.
# Sourced by scripts/stack.sh after lib.sh. Functions: opensearch_install, opensearch_start, opensearch_ready,
# opensearch_stop, opensearch_status.
#
# Settings (environment): OPENSEARCH_HEAP (default 384m, -Xms and -Xmx), OPENSEARCH_START_TIMEOUT (120 s),
# OPENSEARCH_STOP_TIMEOUT (30 s).

OPENSEARCH_SRC="$ROOT/scripts/opensearch"
# Resolved: .local may be a symlink (work trees share one stack), and the pid check compares the node's command
# line with this path, which must read the same from every checkout.
OPENSEARCH_HOME="$(readlink -m "$LOCAL/opensearch")"  # jars, compiled launcher, rendered config (not data)
OPENSEARCH_LIB="$OPENSEARCH_HOME/lib"
OPENSEARCH_CLASSES="$OPENSEARCH_HOME/classes"
OPENSEARCH_DATA="$DATA/opensearch"
OPENSEARCH_OUT="$LOGS/opensearch.log"
OPENSEARCH_PID="$RUNDIR/opensearch.pid"
OPENSEARCH_HEAP="${OPENSEARCH_HEAP:-384m}"
OPENSEARCH_START_TIMEOUT="${OPENSEARCH_START_TIMEOUT:-120}"
OPENSEARCH_STOP_TIMEOUT="${OPENSEARCH_STOP_TIMEOUT:-30}"

_opensearch_jars() {
  local pom="$OPENSEARCH_SRC/pom.xml" stamp="$OPENSEARCH_LIB/.complete" sum
  sum="$(sha256sum "$pom" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$sum" ]] && compgen -G "$OPENSEARCH_LIB/opensearch-2*.jar" >/dev/null; then
    log "opensearch jars already in $OPENSEARCH_LIB ($(ls "$OPENSEARCH_LIB" | grep -c '\.jar$') jars)"
    return 0
  fi
  rm -rf "$OPENSEARCH_LIB"
  mkdir -p "$OPENSEARCH_LIB"
  log "downloading opensearch jars from Maven Central (first run only; cached in ~/.m2)"
  mvn -B -q -Dstyle.color=never -f "$pom" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$OPENSEARCH_LIB" \
    </dev/null >"$LOGS/opensearch-mvn.log" 2>&1 \
    || { show_log_tail "$LOGS/opensearch-mvn.log"; rm -rf "$OPENSEARCH_LIB"; return 1; }
  echo "$sum" >"$stamp"
}

# _opensearch_launcher — compiles Launcher.java when its class is missing or older than the source or the jars.
_opensearch_launcher() {
  local src="$OPENSEARCH_SRC/Launcher.java" cls="$OPENSEARCH_CLASSES/Launcher.class" java javac
  if [[ -f "$cls" && "$cls" -nt "$src" && "$cls" -nt "$OPENSEARCH_LIB/.complete" ]]; then return 0; fi
  java="$(_cassandra_java)" || { warn "no Java 17"; return 1; }
  javac="$(dirname "$(readlink -f "$java")")/javac"
  [[ -x "$javac" ]] || { apt_install openjdk-17-jdk-headless; javac="$(dirname "$(readlink -f "$java")")/javac"; }
  rm -rf "$OPENSEARCH_CLASSES.tmp" && mkdir -p "$OPENSEARCH_CLASSES.tmp"
  "$javac" -nowarn -cp "$OPENSEARCH_LIB/*" -d "$OPENSEARCH_CLASSES.tmp" "$src" && rm -rf "$OPENSEARCH_CLASSES" \
    && mv "$OPENSEARCH_CLASSES.tmp" "$OPENSEARCH_CLASSES"
}

opensearch_install() {
  # Same Java and Maven as Cassandra (OpenSearch 2.19 runs on 17; 3.x would need 21).
  if ! _cassandra_java >/dev/null; then apt_install openjdk-17-jre-headless; fi
  command -v mvn >/dev/null || apt_install maven
  command -v curl >/dev/null || apt_install curl
  _opensearch_jars || return 1
  _opensearch_launcher
}

# opensearch_ready — true if the node answers and the cluster state is usable (yellow is fine: one node, no replicas).
opensearch_ready() {
  curl -fsS --max-time 5 "http://127.0.0.1:$OPENSEARCH_PORT/_cluster/health?wait_for_status=yellow&timeout=2s" 2>/dev/null \
    | grep -qE '"status":"(green|yellow)"'
}

_opensearch_pid() {
  [[ -f "$OPENSEARCH_PID" ]] || return 1
  local pid; pid="$(cat "$OPENSEARCH_PID" 2>/dev/null)"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "Launcher $OPENSEARCH_HOME" || return 1
  echo "$pid"
}

_opensearch_render_conf() {
  mkdir -p "$OPENSEARCH_HOME/config" "$OPENSEARCH_DATA" "$LOGS"
  cat >"$OPENSEARCH_HOME/config/opensearch.yml" <<YAML
cluster.name: parley-local
node.name: parley-search-1
path.data: $OPENSEARCH_DATA
path.logs: $LOGS
network.host: 127.0.0.1
http.port: $OPENSEARCH_PORT
transport.port: $OPENSEARCH_TRANSPORT_PORT
discovery.type: single-node
# A shared development disk: do not turn indices read-only when it fills up.
cluster.routing.allocation.disk.threshold_enabled: false
# The parent circuit breaker counts real heap use, garbage included; with a small heap it refused requests
# (429 "Data too large", 354 MiB of 384) while bulk-indexing a million messages. Count tracked allocations instead.
indices.breaker.total.use_real_memory: false
YAML
  cat >"$OPENSEARCH_HOME/config/log4j2.properties" <<'PROPS'
status = error
appender.console.type = Console
appender.console.name = console
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] %m%n
rootLogger.level = info
rootLogger.appenderRef.console.ref = console
PROPS
}

_opensearch_wait_pred() {
  _opensearch_pid >/dev/null || exit 3
  opensearch_ready
}

opensearch_start() {
  local pid java
  if pid="$(_opensearch_pid)"; then
    if opensearch_ready; then log "opensearch already running on 127.0.0.1:$OPENSEARCH_PORT (pid $pid)"; return 0; fi
    log "opensearch (pid $pid) is running but not ready yet; waiting"
  else
    rm -f "$OPENSEARCH_PID"
    if port_busy "$OPENSEARCH_PORT"; then
      die "something else listens on 127.0.0.1:$OPENSEARCH_PORT (not the node started from $OPENSEARCH_HOME); stop it or set OPENSEARCH_PORT"
    fi
    java="$(_cassandra_java)" || die "no Java 17: run opensearch_install"
    [[ -f "$OPENSEARCH_CLASSES/Launcher.class" ]] || die "opensearch launcher missing: run opensearch_install"
    _opensearch_render_conf
    local args=(
      -Xms"$OPENSEARCH_HEAP" -Xmx"$OPENSEARCH_HEAP" -XX:+UseG1GC -XX:G1ReservePercent=25 -XX:InitiatingHeapOccupancyPercent=30 -Xss1m
      -XX:+PerfDisableSharedMem -XX:+CrashOnOutOfMemoryError -XX:ErrorFile="$LOGS/opensearch-hs_err_%p.log"
      -Djava.security.manager=disallow -Djava.awt.headless=true -Dfile.encoding=UTF-8 -Djna.nosys=true
      -Dio.netty.noUnsafe=true -Dio.netty.noKeySetOptimization=true -Dio.netty.recycler.maxCapacityPerThread=0
      -Dlog4j.shutdownHookEnabled=false -Dlog4j2.disable.jmx=true
      -cp "$OPENSEARCH_CLASSES:$OPENSEARCH_LIB/*"
      Launcher "$OPENSEARCH_HOME"
    )
    printf '\n=== %s starting opensearch ===\n' "$(date -Is)" >>"$OPENSEARCH_OUT"
    (cd "$OPENSEARCH_HOME" && setsid -f bash -c 'echo $$ >"$0"; exec "$@"' "$OPENSEARCH_PID" "$java" "${args[@]}" \
      </dev/null >>"$OPENSEARCH_OUT" 2>&1)
    local i
    for i in $(seq 1 50); do _opensearch_pid >/dev/null && break; sleep 0.1; done
    pid="$(_opensearch_pid)" || { show_log_tail "$OPENSEARCH_OUT"; printf '\033[1;31merror:\033[0m %s\n' "opensearch did not start" >&2; return 1; }
    log "opensearch launched (pid $pid, heap $OPENSEARCH_HEAP); log in $OPENSEARCH_OUT"
  fi
  local rc=0
  ( wait_until "$OPENSEARCH_START_TIMEOUT" "$OPENSEARCH_OUT" opensearch _opensearch_wait_pred ) || rc=$?
  if (( rc == 3 )); then
    show_log_tail "$OPENSEARCH_OUT"
    printf '\033[1;31merror:\033[0m %s\n' "opensearch exited while starting (see $OPENSEARCH_OUT)" >&2
    rm -f "$OPENSEARCH_PID"
  fi
  return "$rc"
}

opensearch_stop() {
  local pid
  if ! pid="$(_opensearch_pid)"; then rm -f "$OPENSEARCH_PID"; return 0; fi
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$(( $(date +%s) + OPENSEARCH_STOP_TIMEOUT ))
  while kill -0 "$pid" 2>/dev/null && (( $(date +%s) < deadline )); do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    warn "opensearch (pid $pid) did not stop within ${OPENSEARCH_STOP_TIMEOUT}s; killing it (its translog is replayed on next start)"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$OPENSEARCH_PID"
}

opensearch_status() {
  local pid
  if pid="$(_opensearch_pid)"; then
    if opensearch_ready; then echo "opensearch: ready on 127.0.0.1:$OPENSEARCH_PORT (pid $pid)"
    else echo "opensearch: running (pid $pid) but not ready on 127.0.0.1:$OPENSEARCH_PORT"; fi
  else
    echo "opensearch: not running"
  fi
}

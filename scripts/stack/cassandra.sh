# Apache Cassandra 5.0, one node on 127.0.0.1:$CASSANDRA_PORT (CQL) / $CASSANDRA_STORAGE_PORT (internode), data
# under $DATA/cassandra. There is no Debian package or Docker here: the jars come from Maven Central
# (scripts/cassandra/pom.xml) and the node runs as a plain JVM (org.apache.cassandra.service.CassandraDaemon).
# Sourced by scripts/stack.sh after lib.sh. Functions: cassandra_install, cassandra_start, cassandra_ready,
# cassandra_stop, cassandra_status, cassandra_cql (runs CQL through $BIN/cqlping), cassandra_nodetool.
#
# Settings (environment): CASSANDRA_HEAP (default 1G, used for -Xms and -Xmx), CASSANDRA_JMX_PORT (default 57199,
# loopback-only JMX for nodetool), CASSANDRA_START_TIMEOUT (default 180 s), CASSANDRA_STOP_TIMEOUT (default 30 s),
# and the latency settings measured in BENCHMARKS.md ("Cassandra settings"): CASSANDRA_GC_PAUSE_MS (G1's pause
# goal), CASSANDRA_GROUP_WINDOW (commitlog_sync_group_window), CASSANDRA_MEMTABLE_ALLOCATION.

CASSANDRA_SRC="$ROOT/scripts/cassandra"
CASSANDRA_HOME="$LOCAL/cassandra"                 # installed jars and rendered config (not data)
CASSANDRA_LIB="$CASSANDRA_HOME/lib"
CASSANDRA_CONF="$CASSANDRA_HOME/conf"
CASSANDRA_DATA="$DATA/cassandra"
CASSANDRA_LOG="$LOGS/cassandra.log"
CASSANDRA_OUT="$LOGS/cassandra.out"
CASSANDRA_PID="$RUNDIR/cassandra.pid"
CASSANDRA_HEAP="${CASSANDRA_HEAP:-1G}"
# Latency over throughput for a chat log (BENCHMARKS.md, "Cassandra settings"): G1 aims at 20 ms pauses (upstream
# 300 ms: young pauses of 85-170 ms were seen here under load), writers share an fsync every 2 ms (upstream
# example 10 ms; an fsync costs ~0.3 ms here), memtables live off the heap (as upstream's shipped yaml has it).
CASSANDRA_GC_PAUSE_MS="${CASSANDRA_GC_PAUSE_MS:-20}"
CASSANDRA_GROUP_WINDOW="${CASSANDRA_GROUP_WINDOW:-2ms}"
CASSANDRA_MEMTABLE_ALLOCATION="${CASSANDRA_MEMTABLE_ALLOCATION:-offheap_objects}"
CASSANDRA_JMX_PORT="${CASSANDRA_JMX_PORT:-57199}"
CASSANDRA_START_TIMEOUT="${CASSANDRA_START_TIMEOUT:-180}"
CASSANDRA_STOP_TIMEOUT="${CASSANDRA_STOP_TIMEOUT:-30}"
CQLPING="$BIN/cqlping"

# Module access Cassandra 5.0 needs on Java 17: the --add-exports/--add-opens list of conf/jvm17-server.options
# in the Cassandra source tree (plus java.nio, which newer revisions of that file add), its GC and Netty settings.
_CASSANDRA_JVM17_OPTS=(
  -XX:+UseG1GC -XX:+ParallelRefProcEnabled -XX:MaxTenuringThreshold=1 -XX:G1HeapRegionSize=16m
  -XX:G1RSetUpdatingPauseTimePercent=5 -XX:InitiatingHeapOccupancyPercent=70
  -Djdk.attach.allowAttachSelf=true
  --add-exports java.base/jdk.internal.misc=ALL-UNNAMED
  --add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED
  --add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED
  --add-exports java.rmi/sun.rmi.server=ALL-UNNAMED
  --add-exports java.sql/java.sql=ALL-UNNAMED
  --add-exports java.base/java.lang.ref=ALL-UNNAMED
  --add-exports jdk.unsupported/sun.misc=ALL-UNNAMED
  --add-exports jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED
  --add-exports jdk.attach/sun.tools.attach=ALL-UNNAMED
  --add-opens java.base/java.lang.module=ALL-UNNAMED
  --add-opens java.base/jdk.internal.loader=ALL-UNNAMED
  --add-opens java.base/jdk.internal.ref=ALL-UNNAMED
  --add-opens java.base/jdk.internal.reflect=ALL-UNNAMED
  --add-opens java.base/jdk.internal.math=ALL-UNNAMED
  --add-opens java.base/jdk.internal.module=ALL-UNNAMED
  --add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED
  --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED
  --add-opens java.base/sun.nio.ch=ALL-UNNAMED
  --add-opens java.base/java.io=ALL-UNNAMED
  --add-opens java.base/java.lang.reflect=ALL-UNNAMED
  --add-opens jdk.compiler/com.sun.tools.javac=ALL-UNNAMED
  --add-opens java.base/java.lang=ALL-UNNAMED
  --add-opens java.base/java.util=ALL-UNNAMED
  --add-opens java.base/java.nio=ALL-UNNAMED
  -Dio.netty.tryReflectionSetAccessible=true
  -Dio.netty.allocator.useCacheForAllThreads=true
  -Dio.netty.allocator.maxOrder=11
)

# _cassandra_java — prints the path of a Java 17 `java` (Cassandra 5.0 runs on 11 or 17, not 21).
_cassandra_java() {
  local j
  for j in "${JAVA_HOME:+$JAVA_HOME/bin/java}" "$(command -v java 2>/dev/null || true)" /usr/lib/jvm/java-17-openjdk-*/bin/java; do
    [[ -n "$j" && -x "$j" ]] || continue
    if "$j" -XshowSettings:properties -version 2>&1 | grep -qE '^\s*java\.specification\.version = 17$'; then
      echo "$j"; return 0
    fi
  done
  return 1
}

# _cassandra_jars — copies cassandra-all and its runtime dependencies into $CASSANDRA_LIB, unless the stamp
# says the lib dir already holds exactly what the current pom asks for.
_cassandra_jars() {
  local pom="$CASSANDRA_SRC/pom.xml" stamp="$CASSANDRA_LIB/.complete" sum
  sum="$(sha256sum "$pom" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$sum" ]] && compgen -G "$CASSANDRA_LIB/cassandra-all-*.jar" >/dev/null; then
    log "cassandra jars already in $CASSANDRA_LIB ($(ls "$CASSANDRA_LIB" | grep -c '\.jar$') jars)"
    return 0
  fi
  rm -rf "$CASSANDRA_LIB"
  mkdir -p "$CASSANDRA_LIB"
  log "downloading cassandra jars from Maven Central (first run only; cached in ~/.m2)"
  mvn -B -q -Dstyle.color=never -f "$pom" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$CASSANDRA_LIB" \
    </dev/null >"$LOGS/cassandra-mvn.log" 2>&1 \
    || { show_log_tail "$LOGS/cassandra-mvn.log"; rm -rf "$CASSANDRA_LIB"; return 1; }
  ls "$CASSANDRA_LIB"/cassandra-all-*.jar "$CASSANDRA_LIB"/jamm-*.jar >/dev/null || { rm -rf "$CASSANDRA_LIB"; return 1; }
  echo "$sum" >"$stamp"
}

# _cassandra_cqlping_build — builds $BIN/cqlping (scripts/cassandra/cqlping, its own Go module) when missing
# or older than its source.
_cassandra_cqlping_build() {
  local src="$CASSANDRA_SRC/cqlping"
  if [[ -x "$CQLPING" && -z "$(find "$src" -type f -newer "$CQLPING" | head -n1)" ]]; then return 0; fi
  command -v go >/dev/null || { warn "go is not installed: cannot build $CQLPING"; return 1; }
  (cd "$src" && go build -o "$CQLPING.tmp" .) && mv -f "$CQLPING.tmp" "$CQLPING"
}

cassandra_install() {
  if ! _cassandra_java >/dev/null; then
    apt_install openjdk-17-jre-headless
    _cassandra_java >/dev/null || die "no Java 17 found (Cassandra 5.0 needs Java 11 or 17)"
  fi
  command -v mvn >/dev/null || apt_install maven
  _cassandra_jars || return 1
  _cassandra_cqlping_build
}

# cassandra_cql STATEMENT... — runs CQL statements on the local node, prints result rows (tab-separated).
cassandra_cql() {
  _cassandra_cqlping_build >/dev/null || return 1
  "$CQLPING" "127.0.0.1:$CASSANDRA_PORT" "$@"
}

# cassandra_ready — true if the node answers a real query (not just an open port).
cassandra_ready() {
  [[ -x "$CQLPING" ]] || return 1
  "$CQLPING" -timeout 5s "127.0.0.1:$CASSANDRA_PORT" 'SELECT release_version FROM system.local' >/dev/null 2>&1
}

# _cassandra_pid — prints the pid of our node if it runs (a stale pid file, or a pid reused by another
# process, does not count).
_cassandra_pid() {
  [[ -f "$CASSANDRA_PID" ]] || return 1
  local pid; pid="$(cat "$CASSANDRA_PID" 2>/dev/null)"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-Dcassandra.config=file://$CASSANDRA_CONF/cassandra.yaml" || return 1
  echo "$pid"
}

_cassandra_render_conf() {
  mkdir -p "$CASSANDRA_CONF" "$CASSANDRA_HOME/triggers" "$CASSANDRA_DATA"/{data,commitlog,hints,saved_caches,cdc_raw}
  sed -e "s|@CASSANDRA_PORT@|$CASSANDRA_PORT|g" \
      -e "s|@CASSANDRA_STORAGE_PORT@|$CASSANDRA_STORAGE_PORT|g" \
      -e "s|@CASSANDRA_DATA@|$CASSANDRA_DATA|g" \
      -e "s|@CASSANDRA_GROUP_WINDOW@|$CASSANDRA_GROUP_WINDOW|g" \
      -e "s|@CASSANDRA_MEMTABLE_ALLOCATION@|$CASSANDRA_MEMTABLE_ALLOCATION|g" \
      "$CASSANDRA_SRC/cassandra.yaml.tmpl" >"$CASSANDRA_CONF/cassandra.yaml.tmp"
  mv -f "$CASSANDRA_CONF/cassandra.yaml.tmp" "$CASSANDRA_CONF/cassandra.yaml"
  cp -f "$CASSANDRA_SRC/logback.xml" "$CASSANDRA_CONF/logback.xml"
  # nodetool and other tools: warnings to stderr only.
  cat >"$CASSANDRA_CONF/logback-tools.xml" <<'XML'
<configuration><appender name="STDERR" class="ch.qos.logback.core.ConsoleAppender"><target>System.err</target>
<encoder><pattern>%-5level %msg%n</pattern></encoder></appender><root level="WARN"><appender-ref ref="STDERR"/></root></configuration>
XML
}

# _cassandra_wait_pred — readiness predicate for wait_until that also notices a node that died while starting:
# it exits the (sub)shell running wait_until with status 3.
_cassandra_wait_pred() {
  _cassandra_pid >/dev/null || exit 3
  cassandra_ready
}

cassandra_start() {
  local pid java
  _cassandra_cqlping_build || return 1
  if pid="$(_cassandra_pid)"; then
    if cassandra_ready; then
      log "cassandra already running on 127.0.0.1:$CASSANDRA_PORT (pid $pid)"
      return 0
    fi
    log "cassandra (pid $pid) is running but not ready yet; waiting"
  else
    [[ -f "$CASSANDRA_PID" ]] && { warn "removing stale cassandra pid file (node was not running)"; rm -f "$CASSANDRA_PID"; }
    if cassandra_ready; then
      die "something else answers CQL on 127.0.0.1:$CASSANDRA_PORT (not the node started from $CASSANDRA_CONF); stop it or set CASSANDRA_PORT"
    fi
    java="$(_cassandra_java)" || die "no Java 17: run cassandra_install"
    [[ -f "$CASSANDRA_LIB/.complete" ]] || die "cassandra jars missing in $CASSANDRA_LIB: run cassandra_install"
    _cassandra_render_conf || return 1

    local args=(
      -Xms"$CASSANDRA_HEAP" -Xmx"$CASSANDRA_HEAP" -Xss256k -XX:MaxGCPauseMillis="$CASSANDRA_GC_PAUSE_MS"
      -XX:+PerfDisableSharedMem -XX:+CrashOnOutOfMemoryError -XX:ErrorFile="$LOGS/cassandra-hs_err_%p.log"
      "-Xlog:gc=info:file=$LOGS/cassandra-gc.log:time,uptime:filecount=2,filesize=10M"
      "${_CASSANDRA_JVM17_OPTS[@]}"
      -Djava.net.preferIPv4Stack=true
      -javaagent:"$(ls "$CASSANDRA_LIB"/jamm-*.jar | head -n1)"
      -Dcassandra-foreground=yes
      -Dcassandra.config="file://$CASSANDRA_CONF/cassandra.yaml"
      -Dcassandra.storagedir="$CASSANDRA_DATA"
      -Dcassandra.logdir="$LOGS"
      -Dcassandra.triggers_dir="$CASSANDRA_HOME/triggers"
      -Dlogback.configurationFile="$CASSANDRA_CONF/logback.xml"
      # JMX for nodetool, loopback only.
      -Dcassandra.jmx.local.port="$CASSANDRA_JMX_PORT"
      -Dcom.sun.management.jmxremote.rmi.port="$CASSANDRA_JMX_PORT"
      # Fast start for a single local node: no gossip settling, no superuser setup delay.
      # NOT -Dcassandra.unsafesystem=true: it skips flushing the schema tables after DDL, and a crash soon after
      # then loses the new table together with acknowledged writes to it (replay skips rows of unknown tables).
      -Dcassandra.skip_wait_for_gossip_to_settle=0
      -Dcassandra.superuser_setup_delay_ms=0
      # Fast stop of a node without peers: no 2 s shutdown announcement, no 2 s wait for internode messages.
      -Dcassandra.shutdown_announce_in_ms=0
      -Dcassandra.test.messagingService.nonGracefulShutdown=true
      -cp "$CASSANDRA_CONF:$CASSANDRA_LIB/*"
      org.apache.cassandra.service.CassandraDaemon
    )
    rm -f "$CASSANDRA_PID"
    printf '\n=== %s starting cassandra ===\n' "$(date -Is)" >>"$CASSANDRA_OUT"
    # setsid -f: the node runs in its own session, not as a child or job of the calling shell, so it outlives
    # it. The inner bash records its own pid and then execs java, so the pid file holds the JVM's pid.
    (cd "$CASSANDRA_HOME" && setsid -f bash -c 'echo $$ >"$0"; exec "$@"' "$CASSANDRA_PID" "$java" "${args[@]}" \
      </dev/null >>"$CASSANDRA_OUT" 2>&1)
    local i
    for i in $(seq 1 50); do _cassandra_pid >/dev/null && break; sleep 0.1; done
    pid="$(_cassandra_pid)" || { show_log_tail "$CASSANDRA_OUT"; printf '\033[1;31merror:\033[0m %s\n' "cassandra did not start" >&2; return 1; }
    log "cassandra launched (pid $pid, heap $CASSANDRA_HEAP); log in $CASSANDRA_LOG"
  fi
  local rc=0
  ( wait_until "$CASSANDRA_START_TIMEOUT" "$CASSANDRA_LOG" cassandra _cassandra_wait_pred ) || rc=$?
  if (( rc == 3 )); then
    show_log_tail "$CASSANDRA_LOG"; show_log_tail "$CASSANDRA_OUT"
    printf '\033[1;31merror:\033[0m %s\n' "cassandra exited while starting (see $CASSANDRA_LOG and $CASSANDRA_OUT)" >&2
    rm -f "$CASSANDRA_PID"
  fi
  return "$rc"
}

cassandra_stop() {
  local pid
  if ! pid="$(_cassandra_pid)"; then rm -f "$CASSANDRA_PID"; return 0; fi
  # SIGTERM runs Cassandra's shutdown hook, which drains: flushes memtables and closes the commit log.
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$(( $(date +%s) + CASSANDRA_STOP_TIMEOUT ))
  while kill -0 "$pid" 2>/dev/null && (( $(date +%s) < deadline )); do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    warn "cassandra (pid $pid) did not stop within ${CASSANDRA_STOP_TIMEOUT}s; killing it (the commit log is replayed on next start)"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$CASSANDRA_PID"
}

cassandra_status() {
  local pid
  if pid="$(_cassandra_pid)"; then
    if cassandra_ready; then
      echo "cassandra: ready on 127.0.0.1:$CASSANDRA_PORT (pid $pid, $(cassandra_cql 2>/dev/null | head -n1))"
    else
      echo "cassandra: running (pid $pid) but not ready on 127.0.0.1:$CASSANDRA_PORT"
    fi
  else
    echo "cassandra: not running"
  fi
}

# cassandra_nodetool ARGS... — nodetool against the local node over loopback JMX (e.g. flush, status, tablestats).
cassandra_nodetool() {
  local java; java="$(_cassandra_java)" || die "no Java 17"
  "$java" -Xmx256m "${_CASSANDRA_JVM17_OPTS[@]}" -Dcassandra.storagedir="$CASSANDRA_DATA" \
    -Dlogback.configurationFile="$CASSANDRA_CONF/logback-tools.xml" -cp "$CASSANDRA_CONF:$CASSANDRA_LIB/*" \
    org.apache.cassandra.tools.NodeTool -h 127.0.0.1 -p "$CASSANDRA_JMX_PORT" "$@"
}

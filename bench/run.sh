#!/usr/bin/env bash
# `make bench`: benchmarks of the Parley server (and a minimal Node.js Socket.IO peer) on this machine.
#
#   bench/run.sh [--smoke] [--only connections,fanout,presence,chat,throughput,history] [--targets ours,peer] [--repeats R]
#                [--keep] [--server-bin PATH] [sizes...]
#
# Starts the local stack (scripts/stack.sh up), builds the server, runs it with its own data (a fresh Postgres
# database, MongoDB database and Cassandra keyspace, all named parley_bench_<random>) on a free loopback port,
# starts the peer (bench/peer), runs the selected scenarios with bench/load.mjs, and writes results to
# bench/results/<time>/ (results.json, results.md, chart.svg; bench/results/latest points at the newest run).
# Every scenario run gets a freshly started server (or peer) process. Everything it started is stopped and its
# databases dropped at the end (--keep keeps them). --server-bin runs a server binary built elsewhere (e.g. from
# another commit) instead of building the work tree.
#
# --smoke runs every scenario tiny (well under a minute once the stack is up) and fails only on functional
# faults (loss, duplicates, errors), never on timing. The last line is "N passed, N failed" (scenario runs).
#
# Scenarios and sizes (full-run defaults in brackets; the full run takes about 30-35 minutes, more on a busy machine):
#   connections  --conns N [19000] --hold S [600] --peer-hold S [60]                         (both servers)
#       N idle authenticated sockets: server CPU per connect (what a connect includes is printed: ours with token
#       auth, session check and room joins; the peer accepts any token), RSS per idle socket, and server-side
#       drops (disconnects the client did not ask for, e.g. missed heartbeats) while Parley holds them S seconds
#       (the peer --peer-hold seconds).
#   fanout       --fanout-members K [2000] --fanout-rooms G [20] --fanout-rates R1,.. [10] --fanout-duration T [10]
#                --fanout-size B [64] --fanout-large-size B [1024] --fanout-variants one,rooms,large [all three]
#       one:   K members in one room, one sender at R msg/s of B-byte messages (K×R deliveries/s: 20,000/s)
#       rooms: G rooms of K/G members, one sender per room at R msg/s each (again K×R deliveries/s)
#       large: as "one", with --fanout-large-size messages
#       Every variant runs on both servers --repeats R [3] times, interleaved (odd repeats ours first, even ones
#       the peer first), each run on a freshly started process. Reported: deliveries per server CPU-second and
#       their ratio ours/peer per repeat pair (median and min–max), send→deliver p50/p99, loss and duplicates.
#   presence     --presence-members K [= fanout members] --presence-concurrency C [100] --presence-tail S [5]
#       (Parley only) K members of one server connect at once (C handshakes in flight): presence:update and
#       presence:batch events received by all clients, and the entries in them, while connecting and S s after.
#   chat         --chat-users U [1000] --chat-channels C [100] --chat-duration T [20]
#                --chat-rates R1,... [100,250,500,1000,1500,2000,3000,4000,6000,8000]   (Parley; --peer-chat: peer too)
#                --chat-procs P [1; smoke 2]: the sockets (official socket.io-client) in P worker processes, for a
#                machine with cores to spare (on 2 shared cores more processes measured worse); per step each
#                process's CPU and event-loop lag
#   throughput   --tp-users U [400] --tp-channels C [200] --tp-rates R1,.. [2000,5000,10000,15000]
#                --tp-duration T [15] --tp-procs P [2] [--tp-all-steps]                    (Parley)
#       Write throughput (issue #13): U users in C channels (2 members each: few receivers) send R msg/s in all
#       for T s per step from P load generator processes with a lean client (`ws`, the protocol by hand); an ack
#       comes only after Cassandra stored the message. Per step: persisted msg/s, send→ack p50/p95/p99/max,
#       refusals by code, server/Cassandra/load generator CPU (per process, with event-loop lag). Stops after
#       the first saturated step (acked < 95 % of offered or p99 > 1 s); then checks every channel's history.
#   history      --history-messages M [400] --history-reads N [500]                      (Parley)
# Every phase and step also reports the load generator's own CPU (utime+stime of its processes, from /proc).
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/scripts/lib.sh"
BENCH="$ROOT/bench"
cd "$ROOT"

ORIG_ARGS="$*"
SMOKE=0
KEEP=0
PEER_CHAT=0
SERVER_BIN_ARG=""
ONLY="connections,fanout,presence,chat,throughput,history"
TARGETS="ours,peer"
REPEATS=3
CONNS=19000; HOLD=600; PEER_HOLD=60
CHAT_USERS=1000; CHAT_CHANNELS=100; CHAT_RATES="100,250,500,1000,1500,2000,3000,4000,6000,8000"; CHAT_DURATION=20; CHAT_PROCS=1
FAN_K=2000; FAN_ROOMS=20; FAN_RATES="10"; FAN_DURATION=10; FAN_SIZE=64; FAN_LARGE=1024; FAN_VARIANTS="one,rooms,large"
PRES_K=""; PRES_CONC=100; PRES_TAIL=5
HIST_MSGS=400; HIST_READS=500
TP_USERS=400; TP_CHANNELS=200; TP_RATES="2000,5000,10000,15000"; TP_DURATION=15; TP_PROCS=2; TP_ALL=0
while (( $# )); do
  case "$1" in
    --smoke) SMOKE=1 ;;
    --keep) KEEP=1 ;;
    --peer-chat) PEER_CHAT=1 ;;
    --only) ONLY="$2"; shift ;;
    --targets) TARGETS="$2"; shift ;;
    --repeats) REPEATS="$2"; shift ;;
    --server-bin) SERVER_BIN_ARG="$2"; shift ;;
    --conns) CONNS="$2"; shift ;;
    --hold) HOLD="$2"; shift ;;
    --peer-hold) PEER_HOLD="$2"; shift ;;
    --chat-users) CHAT_USERS="$2"; shift ;;
    --chat-channels) CHAT_CHANNELS="$2"; shift ;;
    --chat-rates) CHAT_RATES="$2"; shift ;;
    --chat-duration) CHAT_DURATION="$2"; shift ;;
    --chat-procs) CHAT_PROCS="$2"; shift ;;
    --fanout-members) FAN_K="$2"; shift ;;
    --fanout-rates) FAN_RATES="$2"; shift ;;
    --fanout-duration) FAN_DURATION="$2"; shift ;;
    --fanout-rooms) FAN_ROOMS="$2"; shift ;;
    --fanout-size) FAN_SIZE="$2"; shift ;;
    --fanout-large-size) FAN_LARGE="$2"; shift ;;
    --fanout-variants) FAN_VARIANTS="$2"; shift ;;
    --presence-members) PRES_K="$2"; shift ;;
    --presence-concurrency) PRES_CONC="$2"; shift ;;
    --presence-tail) PRES_TAIL="$2"; shift ;;
    --history-messages) HIST_MSGS="$2"; shift ;;
    --history-reads) HIST_READS="$2"; shift ;;
    --tp-users) TP_USERS="$2"; shift ;;
    --tp-channels) TP_CHANNELS="$2"; shift ;;
    --tp-rates) TP_RATES="$2"; shift ;;
    --tp-duration) TP_DURATION="$2"; shift ;;
    --tp-procs) TP_PROCS="$2"; shift ;;
    --tp-all-steps) TP_ALL=1 ;;
    -h|--help) awk 'NR > 1 { if (!/^#/) exit; sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) die "unknown option $1 (see bench/run.sh --help)" ;;
  esac
  shift
done
if (( SMOKE )); then
  REPEATS=1
  CONNS=20; HOLD=3; PEER_HOLD=3
  CHAT_USERS=10; CHAT_CHANNELS=2; CHAT_RATES=20; CHAT_DURATION=3; CHAT_PROCS=2
  FAN_K=20; FAN_ROOMS=4; FAN_RATES=10; FAN_DURATION=1
  PRES_K=20; PRES_TAIL=1
  HIST_MSGS=360; HIST_READS=20
  TP_USERS=20; TP_CHANNELS=10; TP_RATES=200; TP_DURATION=2; TP_PROCS=2
fi
PRES_K="${PRES_K:-$FAN_K}"
has() { [[ ",$1," == *",$2,"* ]]; }
for v in ${FAN_VARIANTS//,/ }; do
  [[ "$v" == one || "$v" == rooms || "$v" == large ]] || die "unknown fan-out variant $v (one, rooms, large)"
done
for s in ${ONLY//,/ }; do
  [[ "$s" =~ ^(connections|fanout|presence|chat|throughput|history)$ ]] || die "unknown scenario $s (connections, fanout, presence, chat, throughput, history)"
done
[[ "$REPEATS" =~ ^[1-9][0-9]*$ ]] || die "--repeats needs a positive number"

command -v node >/dev/null || die "node is not installed (the load generator and the peer are Node.js)"
command -v go >/dev/null || die "go is not installed"
command -v psql >/dev/null || die "psql is not installed (scripts/stack.sh up installs it)"

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
RUN_ID="$STAMP"
if (( SMOKE )); then RUN_ID="$STAMP-smoke"; fi
OUT="$BENCH/results/$RUN_ID"
mkdir -p "$OUT"
ln -sfn "$RUN_ID" "$BENCH/results/latest"
START="$(_ts)"
log "benchmark run $RUN_ID: results in bench/results/$RUN_ID"

# ---------------------------------------------------------------------------------------------------- set up
step "starting the local stack (scripts/stack.sh up; log in bench/results/$RUN_ID/stack.log)" \
  bash -c "'$ROOT/scripts/stack.sh' up >'$OUT/stack.log' 2>&1"
set -a; source "$LOCAL/stack.env"; set +a

# npm ci only when the lockfile changed since the last install (as scripts/deps.sh does).
npm_ci() {
  local dir="$1" stamp="$1/node_modules/.parley-lock-hash" hash
  hash="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
  [[ -f "$stamp" && "$(cat "$stamp")" == "$hash" ]] && return 0
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) && echo "$hash" >"$stamp"
}
step "installing the load generator (socket.io-client, ws)" npm_ci "$BENCH"
step "installing the peer (socket.io)" npm_ci "$BENCH/peer"

if [[ -n "$SERVER_BIN_ARG" ]]; then
  [[ -x "$SERVER_BIN_ARG" ]] || die "--server-bin $SERVER_BIN_ARG is not an executable file"
  SERVER_BIN="$(cd "$(dirname "$SERVER_BIN_ARG")" && pwd)/$(basename "$SERVER_BIN_ARG")"
  log "using the server binary $SERVER_BIN (not building the work tree)"
else
  SERVER_BIN="$BENCH/results/.bin/parley"
  mkdir -p "$(dirname "$SERVER_BIN")"
  step "building the server" go build -trimpath -o "$SERVER_BIN" ./cmd/server
fi

NAME="parley_bench_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
PG_ADMIN_URL="${PARLEY_POSTGRES_URL%%\?*}"; PG_ADMIN_URL="${PG_ADMIN_URL%/*}/postgres"
BENCH_PG_URL="${PARLEY_POSTGRES_URL%%\?*}"; BENCH_PG_URL="${BENCH_PG_URL%/*}/$NAME?sslmode=disable"
SERVER_PID=""; PEER_PID=""; DB_CREATED=0; SERVER_URL=""; PEER_URL=""

stop_pid() { # stop_pid PID SECONDS — SIGTERM, wait, then SIGKILL
  local pid="$1" secs="$2"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  local i
  for (( i = 0; i < secs * 4; i++ )); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  if kill -0 "$pid" 2>/dev/null; then warn "pid $pid did not stop in $secs s: killing it"; kill -KILL "$pid" 2>/dev/null; fi
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  set +e
  stop_pid "$SERVER_PID" 30
  stop_pid "$PEER_PID" 10
  (( KEEP )) || rm -f "$OUT"/world-*.json # the bench users' access tokens (their databases are dropped next)
  if (( DB_CREATED && ! KEEP )); then
    psql "$PG_ADMIN_URL" -X -q -c "DROP DATABASE IF EXISTS $NAME WITH (FORCE)" >/dev/null 2>&1 || warn "could not drop Postgres database $NAME"
    node "$BENCH/lib/mongo-drop.mjs" "$PARLEY_MONGO_URI" "$NAME" || warn "could not drop MongoDB database $NAME"
    "$BIN/cqlping" -timeout 60s "${PARLEY_CASSANDRA_HOSTS%%,*}" "DROP KEYSPACE IF EXISTS $NAME" >/dev/null 2>&1 || warn "could not drop Cassandra keyspace $NAME"
  elif (( DB_CREATED )); then
    log "kept the databases: Postgres $BENCH_PG_URL, MongoDB $NAME, Cassandra keyspace $NAME"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

psql "$PG_ADMIN_URL" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $NAME" >/dev/null
DB_CREATED=1

mkdir -p "$OUT/server-data" "$OUT/static" "$OUT/logs"
JWT_SECRET="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
# Every scenario gets a freshly started process (same databases), so background work one scenario leaves behind
# (presence of thousands of users, read-state and metadata writes) and its heap do not colour the next one.
# Bench settings: per-user send limits raised (the load is many messages from few users), cheap password hashes
# (registration speed only), long-lived access tokens; everything else default.
start_server() { # start_server LABEL
  local logf="$OUT/logs/server-$1.log"
  (
    export PARLEY_HTTP_ADDR=127.0.0.1:0
    export PARLEY_POSTGRES_URL="$BENCH_PG_URL"
    export PARLEY_MONGO_DATABASE="$NAME" PARLEY_CASSANDRA_KEYSPACE="$NAME"
    export PARLEY_JWT_SECRET="$JWT_SECRET"
    export PARLEY_BCRYPT_COST=4 PARLEY_SEND_RATE=1000000 PARLEY_SEND_BURST=1000000 PARLEY_ACCESS_TOKEN_TTL=3h
    export PARLEY_LOG_LEVEL=info PARLEY_STATIC_DIR="$OUT/static" PARLEY_DATA_DIR="$OUT/server-data"
    exec "$SERVER_BIN" >"$logf" 2>&1
  ) &
  SERVER_PID=$!
  local deadline=$(( $(date +%s) + 180 ))
  SERVER_ADDR=""
  while (( $(date +%s) < deadline )); do
    kill -0 "$SERVER_PID" 2>/dev/null || { tail -n 30 "$logf" >&2; return 1; }
    SERVER_ADDR="$(grep -o '"msg":"serving","addr":"[^"]*"' "$logf" | head -n1 | sed 's/.*"addr":"//; s/"$//')" || true
    if [[ -n "$SERVER_ADDR" ]] && curl -fsS "http://$SERVER_ADDR/readyz" >/dev/null 2>&1; then
      SERVER_URL="http://$SERVER_ADDR"
      return 0
    fi
    sleep 0.3
  done
  tail -n 30 "$logf" >&2
  return 1
}
start_peer() { # start_peer LABEL
  local logf="$OUT/logs/peer-$1.log"
  node "$BENCH/peer/server.mjs" --port 0 >"$logf" 2>&1 &
  PEER_PID=$!
  local i
  for (( i = 0; i < 100; i++ )); do
    PEER_ADDR="$(grep -o '"listening":"[^"]*"' "$logf" | head -n1 | sed 's/.*":"//; s/"$//')" || true
    if [[ -n "$PEER_ADDR" ]]; then PEER_URL="http://$PEER_ADDR"; return 0; fi
    kill -0 "$PEER_PID" 2>/dev/null || { cat "$logf" >&2; return 1; }
    sleep 0.1
  done
  return 1
}
step "starting the server once (fresh databases $NAME; migrations)" start_server migrate
stop_pid "$SERVER_PID" 30; SERVER_PID=""

CASS_PID="$(cat "$RUNDIR/cassandra.pid" 2>/dev/null || true)"
# FerretDB (the MongoDB stand-in, scripts/stack/ferretdb.sh): its own CPU, not that of the Postgres backends it uses.
MONGO_PID="$(cat "$RUNDIR/ferretdb.pid" 2>/dev/null || true)"
[[ -n "$MONGO_PID" && "$(cat "/proc/$MONGO_PID/comm" 2>/dev/null)" == ferretdb ]] || MONGO_PID=""

# ---------------------------------------------------------------------------------------------- machine facts
cat_or() { "$@" 2>/dev/null || echo unknown; }
CASS_YAML="$LOCAL/cassandra/conf/cassandra.yaml"
{
  printf '{\n'
  printf '  "runId": "%s",\n  "smoke": %s,\n' "$RUN_ID" "$( (( SMOKE )) && echo true || echo false)"
  printf '  "cores": %s,\n  "memTotalGB": %s,\n' "$(nproc)" "$(awk '/MemTotal/ {printf "%.1f", $2/1048576}' /proc/meminfo)"
  printf '  "cpuModel": "%s",\n' "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo | tr -d '"')"
  printf '  "kernel": "%s",\n' "$(uname -r)"
  printf '  "go": "%s",\n' "$(go env GOVERSION)"
  printf '  "node": "%s",\n' "$(node --version)"
  printf '  "java": "%s",\n' "$( (java -version 2>&1 || echo unknown) | head -n1 | tr -d '"')"
  printf '  "cassandra": "%s",\n' "$(cat_or "$BIN/cqlping" "${PARLEY_CASSANDRA_HOSTS%%,*}" | head -n1)"
  printf '  "commitlogSync": "%s",\n' "$(awk '/^commitlog_sync:/ {s=$2} /^commitlog_sync_group_window:/ {w=$2} END {print s" "w}' "$CASS_YAML" 2>/dev/null)"
  printf '  "socketioClient": "%s",\n' "$(node -p "require('$BENCH/node_modules/socket.io-client/package.json').version")"
  printf '  "peerSocketio": "%s",\n' "$(node -p "require('$BENCH/peer/node_modules/socket.io/package.json').version" 2>/dev/null || echo none)"
  printf '  "openFilesLimit": %s,\n' "$(ulimit -n)"
  printf '  "loadBefore": "%s",\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
  printf '  "uptimeBefore": "%s",\n' "$(uptime | sed 's/^ *//')"
  printf '  "databases": "%s",\n' "$NAME"
  printf '  "settings": "PARLEY_SEND_RATE=1000000 PARLEY_SEND_BURST=1000000 PARLEY_BCRYPT_COST=4 PARLEY_LOG_LEVEL=info; FLUSH_BATCH/FLUSH_DELAY/QUEUE_LIMIT/WINDOW_SIZE default",\n'
  printf '  "repeats": %s,\n' "$REPEATS"
  printf '  "serverBinary": "%s",\n' "$SERVER_BIN"
  printf '  "command": "%s"\n' "bench/run.sh $ORIG_ARGS"
  printf '}\n'
} >"$OUT/machine.json"

# -------------------------------------------------------------------------------------------------- scenarios
PASSED=0; FAILED=0; FAILED_NAMES=()
PG_PID="$(head -n1 "$DATA/postgres/postmaster.pid" 2>/dev/null || true)"
run_scenario() { # run_scenario SCENARIO TARGET LABEL flags... — LABEL names the results file (LABEL.json) and logs
  local name="$1" target="$2" label="$3"; shift 3
  local url pid
  if [[ "$target" == peer ]]; then
    start_peer "$label" || { FAILED=$((FAILED + 1)); FAILED_NAMES+=("$label"); warn "the peer did not start"; return 0; }
    url="$PEER_URL"; pid="$PEER_PID"
  else
    start_server "$label" || { FAILED=$((FAILED + 1)); FAILED_NAMES+=("$label"); warn "the server did not start"; return 0; }
    url="$SERVER_URL"; pid="$SERVER_PID"
  fi
  log "$target pid $pid on $url"
  local smoke=(); (( SMOKE )) && smoke=(--smoke)
  local start; start="$(_ts)"
  log "scenario $label ..."
  local rc=0
  node --max-old-space-size=6144 "$BENCH/load.mjs" --scenario "$name" --target "$target" --url "$url" --pid "$pid" \
    ${CASS_PID:+--cassandra-pid "$CASS_PID"} ${MONGO_PID:+--mongo-pid "$MONGO_PID"} ${PG_PID:+--postgres-pid "$PG_PID"} --out "$OUT/$label.json" "${smoke[@]}" "$@" || rc=$?
  if (( rc == 0 )); then
    PASSED=$((PASSED + 1)); log "scenario $label: passed in $(_elapsed "$start")"
  else
    FAILED=$((FAILED + 1)); FAILED_NAMES+=("$label")
    warn "scenario $label: FAILED (exit $rc) after $(_elapsed "$start")"
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    FAILED=$((FAILED + 1)); FAILED_NAMES+=("$label:died")
    warn "the $target server died during $label (see bench/results/$RUN_ID/logs/)"
  fi
  # Peak RSS of the whole process lifetime (VmHWM), then stop it: the next scenario run gets a fresh one.
  awk '/VmHWM/ {printf "%.1f\n", $2/1024}' "/proc/$pid/status" >"$OUT/$label.hwm" 2>/dev/null || true
  if [[ "$target" == peer ]]; then stop_pid "$PEER_PID" 10; PEER_PID=""; else stop_pid "$SERVER_PID" 30; SERVER_PID=""; fi
}
for_targets() { # for_targets SCENARIO peer-ok flags...
  local name="$1" peer_ok="$2"; shift 2
  has "$ONLY" "$name" || return 0
  has "$TARGETS" ours && run_scenario "$name" ours "$name-ours" "$@"
  if (( peer_ok )) && has "$TARGETS" peer; then run_scenario "$name" peer "$name-peer" "$@"; fi
  return 0
}

# Connections: Parley holds its sockets --hold seconds (the long heartbeat check), the peer --peer-hold seconds.
if has "$ONLY" connections; then
  has "$TARGETS" ours && run_scenario connections ours connections-ours --conns "$CONNS" --hold "$HOLD"
  has "$TARGETS" peer && run_scenario connections peer connections-peer --conns "$CONNS" --hold "$PEER_HOLD"
fi

# Fan-out: every variant on both targets, repeated and interleaved (odd repeats ours first, even ones the peer
# first), each run on a fresh process. Parley's users and channels are made once per world size and reused
# (same databases, tokens valid for PARLEY_ACCESS_TOKEN_TTL).
if has "$ONLY" fanout; then
  for (( r = 1; r <= REPEATS; r++ )); do
    order="ours peer"; (( r % 2 == 0 )) && order="peer ours"
    for v in ${FAN_VARIANTS//,/ }; do
      rooms=1; size="$FAN_SIZE"
      [[ "$v" == rooms ]] && rooms="$FAN_ROOMS"
      [[ "$v" == large ]] && size="$FAN_LARGE"
      for t in $order; do
        has "$TARGETS" "$t" || continue
        run_scenario fanout "$t" "fanout-$v-$t-r$r" --variant "$v" --repeat "$r" --members "$FAN_K" --rooms "$rooms" \
          --size "$size" --rates "$FAN_RATES" --duration "$FAN_DURATION" --world "$OUT/world-${FAN_K}x$rooms.json"
      done
    done
  done
fi

# Presence when the members of one server connect at once (Parley only; reuses the fan-out's world if sizes match).
if has "$ONLY" presence && has "$TARGETS" ours; then
  run_scenario presence ours presence-ours --members "$PRES_K" --concurrency "$PRES_CONC" --tail "$PRES_TAIL" \
    --world "$OUT/world-${PRES_K}x1.json"
fi
for_targets chat "$PEER_CHAT" --users "$CHAT_USERS" --channels "$CHAT_CHANNELS" --rates "$CHAT_RATES" --duration "$CHAT_DURATION" \
  --procs "$CHAT_PROCS"
tp_all=(); (( TP_ALL )) && tp_all=(--all-steps)
for_targets throughput 0 --users "$TP_USERS" --channels "$TP_CHANNELS" --rates "$TP_RATES" --duration "$TP_DURATION" \
  --procs "$TP_PROCS" "${tp_all[@]}"
for_targets history 0 --messages "$HIST_MSGS" --reads "$HIST_READS"

printf '{"loadAfter": "%s", "uptimeAfter": "%s", "seconds": %s}\n' \
  "$(cut -d' ' -f1-3 /proc/loadavg)" "$(uptime | sed 's/^ *//')" \
  "$(awk -v a="$START" -v b="$(_ts)" 'BEGIN { printf "%.0f", b - a }')" >"$OUT/after.json"
node "$BENCH/report.mjs" "$OUT" || warn "the report could not be written"
log "results: bench/results/$RUN_ID/results.md (and .json, chart.svg); run took $(_elapsed "$START")"
(( FAILED )) && warn "failed: ${FAILED_NAMES[*]}"
echo "$PASSED passed, $FAILED failed"
(( FAILED == 0 ))

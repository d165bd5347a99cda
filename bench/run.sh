#!/usr/bin/env bash
# `make bench`: benchmarks of the Parley server (and a minimal Node.js Socket.IO peer) on this machine.
#
#   bench/run.sh [--smoke] [--only connections,fanout,presence,chat,throughput,history,cluster] [--targets ours,peer]
#                [--repeats R] [--keep] [--no-stack] [--server-bin PATH] [sizes...]
#
# Starts the local stack (scripts/stack.sh up), builds the server, runs it with its own data (a slice made by
# cmd/slice: a fresh Postgres database, MongoDB database, Cassandra keyspace and search index, all named
# parley_bench_<random>) on a free loopback port,
# starts the peer (bench/peer), runs the selected scenarios with bench/load.mjs, and writes results to
# bench/results/<time>/ (results.json, results.md, chart.svg; bench/results/latest points at the newest run).
# Every scenario run gets a freshly started server (or peer) process. Everything it started is stopped and its
# databases dropped at the end (--keep keeps them). --server-bin runs a server binary built elsewhere (e.g. from
# another commit) instead of building the work tree. --no-stack uses the local stack as it runs without
# `scripts/stack.sh up` (a stack another checkout started, whose Cassandra the up check does not recognise);
# without a Cassandra pid file, Cassandra's CPU is read from the process listening on its CQL port.
#
# --smoke runs every scenario tiny (well under a minute once the stack is up; with the cluster scenario's
# "spread" variant only) and fails only on functional faults (loss, duplicates, errors), never on timing. The last
# line is "N passed, N failed" (scenario runs). `--smoke --only cluster` runs every cluster variant tiny (~1 min).
#
# Scenarios and sizes (full-run defaults in brackets; the full run takes about 30-35 minutes, more on a busy machine;
# the cluster scenario is not in it: --only cluster alone takes about 20 minutes, more on a busy machine):
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
#   history      --history-messages M [400] --history-reads N [5000, after 200 unmeasured]    (Parley)
#   cluster      --cluster-nodes N [3] --cluster-repeats R [2] (Parley; not in the default run: --only cluster)
#                --cluster-variants [single,spread,local,gateway,tp-single,tp-spread]
#                --cluster-users U [200] --cluster-channels C [20] --cluster-rates R1,.. [200,500] --cluster-duration T [20]
#                --cluster-tp-users [400] --cluster-tp-channels [200] --cluster-tp-rates [500,1000,2000,5000,10000]
#                --cluster-tp-duration [15] --cluster-tp-procs [2]
#       Issue #14: what running as several nodes costs. Every variant runs R times, interleaved (the variant order
#       reversed on even repeats), each run on fresh processes: "single"/"tp-single" one plain server, the others
#       N processes of one cluster (node i: PARLEY_NODE_ID=i, PARLEY_HTTP_ADDR on a free port, PARLEY_CLUSTER_ADDR
#       on another, the same PARLEY_JWT_SECRET and PARLEY_CLUSTER_SECRET, PARLEY_REDIS_PREFIX
#       <slice>-<label> unique per run, its keys deleted afterwards). All on this run's databases and
#       the local stack's single-node Cassandra (the three-node Cassandra of scripts/cluster.sh would add its own
#       cost and is not the subject). Before measuring, one message per channel (the owners take their leases);
#       each channel's owner is then read from Redis (<prefix>:lease:<channel>, "<nodeId>|...").
#       Latency (official socket.io-client, U users in C channels, R msg/s in all for T s per rate, every rate run):
#         single   one node
#         spread   N nodes, round-robin (member j of channel c on node (c + j) % N): ~(N-1)/N of the sends are
#                  forwarded to the owner, as many deliveries reach their socket through the Redis bus
#         local    N nodes, every socket on its channel's owner: nothing forwarded (the bus still carries each message)
#         gateway  N nodes, every socket on the node owning the fewest channels, only users of channels the other
#                  nodes own send: that node is a pure gateway, the others pure owners, so their CPU per message
#                  splits the cost of a forwarded message between gateway and owner
#         Per variant and rate: send→ack and send→deliver p50/p95/p99/max, loss and duplicates (0 expected; then
#         every acknowledged message checked in the history), CPU of every node, Redis, Cassandra, FerretDB,
#         PostgreSQL and the load generator, server CPU per message summed over the nodes and its ratio to one
#         node (paired per repeat), the share of sends forwarded and of deliveries crossing nodes.
#       Throughput ("tp-single", "tp-spread": users round-robin as in spread): the throughput scenario's method
#         (lean clients, rising rates, stop after the first saturated step): persisted msg/s, ack p50/p99, CPU.
#       The machine's 2 cores are shared by every node, the databases and the load generator: N nodes cannot be
#       faster here. The figures show the cost of coordination and forwarding, not scale-out.
# Every phase and step also reports the load generator's own CPU (utime+stime of its processes, from /proc).
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/scripts/lib.sh"
BENCH="$ROOT/bench"
cd "$ROOT"

ORIG_ARGS="$*"
SMOKE=0
KEEP=0
NO_STACK=0
ONLY_SET=0; CL_VARIANTS_SET=0
PEER_CHAT=0
SERVER_BIN_ARG=""
ONLY="connections,fanout,presence,chat,throughput,history"
TARGETS="ours,peer"
REPEATS=3
CONNS=19000; HOLD=600; PEER_HOLD=60
CHAT_USERS=1000; CHAT_CHANNELS=100; CHAT_RATES="100,250,500,1000,1500,2000,3000,4000,6000,8000"; CHAT_DURATION=20; CHAT_PROCS=1
FAN_K=2000; FAN_ROOMS=20; FAN_RATES="10"; FAN_DURATION=10; FAN_SIZE=64; FAN_LARGE=1024; FAN_VARIANTS="one,rooms,large"
PRES_K=""; PRES_CONC=100; PRES_TAIL=5
HIST_MSGS=400; HIST_READS=5000
TP_USERS=400; TP_CHANNELS=200; TP_RATES="2000,5000,10000,15000"; TP_DURATION=15; TP_PROCS=2; TP_ALL=0
CL_NODES=3; CL_USERS=200; CL_CHANNELS=20; CL_RATES="200,500"; CL_DURATION=20; CL_REPEATS=2
CL_VARIANTS="single,spread,local,gateway,tp-single,tp-spread"
CL_TP_USERS=400; CL_TP_CHANNELS=200; CL_TP_RATES="500,1000,2000,5000,10000"; CL_TP_DURATION=15; CL_TP_PROCS=2
while (( $# )); do
  case "$1" in
    --smoke) SMOKE=1 ;;
    --keep) KEEP=1 ;;
    --no-stack) NO_STACK=1 ;;
    --peer-chat) PEER_CHAT=1 ;;
    --only) ONLY="$2"; ONLY_SET=1; shift ;;
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
    --cluster-nodes) CL_NODES="$2"; shift ;;
    --cluster-users) CL_USERS="$2"; shift ;;
    --cluster-channels) CL_CHANNELS="$2"; shift ;;
    --cluster-rates) CL_RATES="$2"; shift ;;
    --cluster-duration) CL_DURATION="$2"; shift ;;
    --cluster-repeats) CL_REPEATS="$2"; shift ;;
    --cluster-variants) CL_VARIANTS="$2"; CL_VARIANTS_SET=1; shift ;;
    --cluster-tp-users) CL_TP_USERS="$2"; shift ;;
    --cluster-tp-channels) CL_TP_CHANNELS="$2"; shift ;;
    --cluster-tp-rates) CL_TP_RATES="$2"; shift ;;
    --cluster-tp-duration) CL_TP_DURATION="$2"; shift ;;
    --cluster-tp-procs) CL_TP_PROCS="$2"; shift ;;
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
  CL_REPEATS=1; CL_USERS=30; CL_CHANNELS=6; CL_RATES=30; CL_DURATION=2
  CL_TP_USERS=30; CL_TP_CHANNELS=15; CL_TP_RATES=200; CL_TP_DURATION=2; CL_TP_PROCS=2
  # The default smoke run includes the cluster scenario's "spread" variant only (three nodes, forwarding and the
  # bus, about 10 s); --only cluster runs every variant tiny (about a minute).
  if (( ! ONLY_SET )); then
    ONLY="$ONLY,cluster"
    (( CL_VARIANTS_SET )) || CL_VARIANTS=spread
  fi
fi
PRES_K="${PRES_K:-$FAN_K}"
has() { [[ ",$1," == *",$2,"* ]]; }
for v in ${FAN_VARIANTS//,/ }; do
  [[ "$v" == one || "$v" == rooms || "$v" == large ]] || die "unknown fan-out variant $v (one, rooms, large)"
done
for s in ${ONLY//,/ }; do
  [[ "$s" =~ ^(connections|fanout|presence|chat|throughput|history|cluster)$ ]] || die "unknown scenario $s (connections, fanout, presence, chat, throughput, history, cluster)"
done
[[ "$REPEATS" =~ ^[1-9][0-9]*$ ]] || die "--repeats needs a positive number"
[[ "$CL_REPEATS" =~ ^[1-9][0-9]*$ ]] || die "--cluster-repeats needs a positive number"
[[ "$CL_NODES" =~ ^[2-9]$ ]] || die "--cluster-nodes needs a number from 2 to 9"
for v in ${CL_VARIANTS//,/ }; do
  [[ "$v" =~ ^(single|spread|local|gateway|tp-single|tp-spread)$ ]] || die "unknown cluster variant $v (single, spread, local, gateway, tp-single, tp-spread)"
done

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
if (( NO_STACK )); then
  [[ -f "$LOCAL/stack.env" ]] || die "--no-stack: $LOCAL/stack.env is missing (run scripts/stack.sh up once)"
  log "--no-stack: using the local stack as it runs (scripts/stack.sh up not run)"
else
  step "starting the local stack (scripts/stack.sh up; log in bench/results/$RUN_ID/stack.log)" \
    bash -c "'$ROOT/scripts/stack.sh' up >'$OUT/stack.log' 2>&1"
fi
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

# The run's data slice (cmd/slice, shared with the e2e suite and the Go tests): a fresh Postgres database, and its
# name for the MongoDB database, Cassandra keyspace, search index and Redis keys; created below, dropped at exit.
SLICE_BIN="$BENCH/results/.bin/parley-slice"
step "building the data-slice tool (cmd/slice)" go build -trimpath -o "$SLICE_BIN" ./cmd/slice
NAME=""; BENCH_PG_URL=""
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
  stop_nodes
  (( KEEP )) || rm -f "$OUT"/world-*.json # the bench users' access tokens (their databases are dropped next)
  if (( DB_CREATED && ! KEEP )); then
    "$SLICE_BIN" drop "$NAME" || warn "could not drop all of the data slice $NAME"
  elif (( DB_CREATED )); then
    log "kept the databases: Postgres $BENCH_PG_URL, MongoDB $NAME, Cassandra keyspace and search index $NAME"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

SLICE_ENV="$("$SLICE_BIN" create parley_bench)" || die "could not create the run's data slice"
NAME="$(sed -n 's/^PARLEY_SLICE=//p' <<<"$SLICE_ENV")"
BENCH_PG_URL="$(sed -n 's/^PARLEY_POSTGRES_URL=//p' <<<"$SLICE_ENV")"
DB_CREATED=1

mkdir -p "$OUT/server-data" "$OUT/static" "$OUT/logs"
JWT_SECRET="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
# Every scenario gets a freshly started process (same databases), so background work one scenario leaves behind
# (presence of thousands of users, read-state and metadata writes) and its heap do not colour the next one.
# Bench settings: per-user send limits raised (the load is many messages from few users), cheap password hashes
# (registration speed only), long-lived access tokens; everything else default.
server_env() { # the bench settings of every server process (exported in the subshell that starts it)
  export PARLEY_HTTP_ADDR=127.0.0.1:0
  export PARLEY_POSTGRES_URL="$BENCH_PG_URL"
  export PARLEY_MONGO_DATABASE="$NAME" PARLEY_CASSANDRA_KEYSPACE="$NAME" PARLEY_SEARCH_INDEX="$NAME"
  export PARLEY_JWT_SECRET="$JWT_SECRET"
  # The limits that guard against abuse are lifted: the scenarios use few accounts (19,000 sockets of 10 users).
  export PARLEY_BCRYPT_COST=4 PARLEY_SEND_RATE=1000000 PARLEY_SEND_BURST=1000000 PARLEY_API_RATE=1000000 PARLEY_API_BURST=1000000 PARLEY_ACCESS_TOKEN_TTL=3h
  export PARLEY_MAX_SOCKETS_PER_USER=100000
  export PARLEY_LOG_LEVEL=info PARLEY_STATIC_DIR="$OUT/static" PARLEY_DATA_DIR="$OUT/server-data"
}
wait_serving() { # wait_serving PID LOGFILE — sets SERVER_URL once the process logs its address and /readyz answers
  local pid="$1" logf="$2" addr="" deadline=$(( $(date +%s) + 180 ))
  SERVER_URL=""
  while (( $(date +%s) < deadline )); do
    kill -0 "$pid" 2>/dev/null || { tail -n 30 "$logf" >&2; return 1; }
    addr="$(grep -o '"msg":"serving","addr":"[^"]*"' "$logf" | head -n1 | sed 's/.*"addr":"//; s/"$//')" || true
    if [[ -n "$addr" ]] && curl -fsS "http://$addr/readyz" >/dev/null 2>&1; then
      SERVER_URL="http://$addr"
      return 0
    fi
    sleep 0.3
  done
  tail -n 30 "$logf" >&2
  return 1
}
start_server() { # start_server LABEL
  local logf="$OUT/logs/server-$1.log"
  (
    server_env
    exec "$SERVER_BIN" >"$logf" 2>&1
  ) &
  SERVER_PID=$!
  wait_serving "$SERVER_PID" "$logf"
}
# The cluster scenario: N fresh processes. N = 1: a plain single node (no cluster settings, Redis unused). N > 1:
# one cluster, node i with PARLEY_NODE_ID=i, its own internal address, and a Redis key prefix of its own per run
# (<slice name>-<label>), on the same databases; the prefix's keys are deleted when the nodes stop.
NODE_PIDS=(); NODE_URLS=(); NODE_PREFIX=""
CLUSTER_SECRET="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
free_port() { node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'; }
start_nodes() { # start_nodes N LABEL
  local n="$1" label="$2" i caddr logf
  NODE_PIDS=(); NODE_URLS=(); NODE_PREFIX=""
  (( n > 1 )) && NODE_PREFIX="$NAME-$label"
  for (( i = 1; i <= n; i++ )); do
    logf="$OUT/logs/server-$label-node$i.log"
    caddr=""
    if (( n > 1 )); then caddr="127.0.0.1:$(free_port)" || return 1; fi
    (
      server_env
      if [[ -n "$caddr" ]]; then
        export PARLEY_NODE_ID="$i" PARLEY_CLUSTER_ADDR="$caddr" PARLEY_CLUSTER_SECRET="$CLUSTER_SECRET"
        export PARLEY_REDIS_URL="$PARLEY_REDIS_URL" PARLEY_REDIS_PREFIX="$NODE_PREFIX"
      fi
      exec "$SERVER_BIN" >"$logf" 2>&1
    ) &
    NODE_PIDS+=("$!")
  done
  for (( i = 1; i <= n; i++ )); do
    wait_serving "${NODE_PIDS[$((i - 1))]}" "$OUT/logs/server-$label-node$i.log" || return 1
    NODE_URLS+=("$SERVER_URL")
  done
}
stop_nodes() { # SIGTERM to every node at once (a cluster node hands its channels over as it leaves), then wait
  local p
  for p in "${NODE_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${NODE_PIDS[@]}"; do stop_pid "$p" 30; done
  NODE_PIDS=()
  if [[ -n "$NODE_PREFIX" ]]; then
    "$SLICE_BIN" drop-redis "$NODE_PREFIX" || warn "could not delete the Redis keys $NODE_PREFIX:*"
  fi
  NODE_PREFIX=""
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
if [[ -z "$CASS_PID" ]] || ! kill -0 "$CASS_PID" 2>/dev/null; then
  # No pid file (a stack started from another checkout, or --no-stack): the process listening on the CQL port.
  cass_hp="${PARLEY_CASSANDRA_HOSTS%%,*}"
  CASS_PID="$(ss -ltnpH "sport = :${cass_hp##*:}" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2)" || true
  [[ -n "$CASS_PID" ]] || warn "Cassandra's pid is unknown: its CPU will not be reported"
fi
# FerretDB (the MongoDB stand-in, scripts/stack/ferretdb.sh): its own CPU, not that of the Postgres backends it uses.
MONGO_PID="$(cat "$RUNDIR/ferretdb.pid" 2>/dev/null || true)"
[[ -n "$MONGO_PID" && "$(cat "/proc/$MONGO_PID/comm" 2>/dev/null)" == ferretdb ]] || MONGO_PID=""
# Redis (the cluster scenario's bus and leases).
REDIS_PID="$(cat "$RUNDIR/redis.pid" 2>/dev/null || true)"
[[ -n "$REDIS_PID" && "$(cat "/proc/$REDIS_PID/comm" 2>/dev/null)" == redis-server ]] || REDIS_PID=""

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
  printf '  "settings": "PARLEY_SEND_RATE=1000000 PARLEY_SEND_BURST=1000000 PARLEY_MAX_SOCKETS_PER_USER=100000 PARLEY_BCRYPT_COST=4 PARLEY_LOG_LEVEL=info; FLUSH_BATCH/FLUSH_DELAY/QUEUE_LIMIT/WINDOW_SIZE default",\n'
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

# Cluster (issue #14): every variant on fresh processes, repeated, the order reversed on even repeats.
run_cluster() { # run_cluster NODES LABEL flags... — like run_scenario, for NODES fresh server processes
  local n="$1" label="$2"; shift 2
  if ! start_nodes "$n" "$label"; then
    FAILED=$((FAILED + 1)); FAILED_NAMES+=("$label"); warn "the server nodes of $label did not start"; stop_nodes; return 0
  fi
  local urls pids
  urls="$(IFS=,; echo "${NODE_URLS[*]}")"; pids="$(IFS=,; echo "${NODE_PIDS[*]}")"
  log "$n node(s): pids $pids on $urls${NODE_PREFIX:+ (Redis prefix $NODE_PREFIX)}"
  local smoke=(); (( SMOKE )) && smoke=(--smoke)
  local start; start="$(_ts)"
  log "scenario $label ..."
  local rc=0
  node --max-old-space-size=6144 "$BENCH/load.mjs" --scenario cluster --target ours --url "${NODE_URLS[0]}" --urls "$urls" --pid "$pids" \
    --redis-url "$PARLEY_REDIS_URL" ${NODE_PREFIX:+--redis-prefix "$NODE_PREFIX"} ${REDIS_PID:+--redis-pid "$REDIS_PID"} \
    ${CASS_PID:+--cassandra-pid "$CASS_PID"} ${MONGO_PID:+--mongo-pid "$MONGO_PID"} ${PG_PID:+--postgres-pid "$PG_PID"} \
    --out "$OUT/$label.json" "${smoke[@]}" "$@" || rc=$?
  if (( rc == 0 )); then
    PASSED=$((PASSED + 1)); log "scenario $label: passed in $(_elapsed "$start")"
  else
    FAILED=$((FAILED + 1)); FAILED_NAMES+=("$label")
    warn "scenario $label: FAILED (exit $rc) after $(_elapsed "$start")"
  fi
  local p i=0
  for p in "${NODE_PIDS[@]}"; do
    i=$((i + 1))
    if ! kill -0 "$p" 2>/dev/null; then
      FAILED=$((FAILED + 1)); FAILED_NAMES+=("$label:node$i-died"); warn "node $i died during $label (see bench/results/$RUN_ID/logs/)"
    fi
  done
  stop_nodes
}
if has "$ONLY" cluster; then
  for (( r = 1; r <= CL_REPEATS; r++ )); do
    order="${CL_VARIANTS//,/ }"
    (( r % 2 == 0 )) && order="$(echo "$order" | tr ' ' '\n' | tac | tr '\n' ' ')"
    for v in $order; do
      case "$v" in
        single|spread|local|gateway)
          n="$CL_NODES"; [[ "$v" == single ]] && n=1
          run_cluster "$n" "cluster-$v-r$r" --mode latency --variant "$v" --repeat "$r" --users "$CL_USERS" --channels "$CL_CHANNELS" \
            --rates "$CL_RATES" --duration "$CL_DURATION" --world "$OUT/world-cluster-${CL_USERS}x$CL_CHANNELS.json" ;;
        tp-single|tp-spread)
          n="$CL_NODES"; [[ "$v" == tp-single ]] && n=1
          run_cluster "$n" "cluster-$v-r$r" --mode throughput --variant "$v" --repeat "$r" --users "$CL_TP_USERS" --channels "$CL_TP_CHANNELS" \
            --rates "$CL_TP_RATES" --duration "$CL_TP_DURATION" --procs "$CL_TP_PROCS" --world "$OUT/world-cluster-tp-${CL_TP_USERS}x$CL_TP_CHANNELS.json" ;;
      esac
    done
  done
fi

printf '{"loadAfter": "%s", "uptimeAfter": "%s", "seconds": %s}\n' \
  "$(cut -d' ' -f1-3 /proc/loadavg)" "$(uptime | sed 's/^ *//')" \
  "$(awk -v a="$START" -v b="$(_ts)" 'BEGIN { printf "%.0f", b - a }')" >"$OUT/after.json"
node "$BENCH/report.mjs" "$OUT" || warn "the report could not be written"
log "results: bench/results/$RUN_ID/results.md (and .json, chart.svg); run took $(_elapsed "$START")"
(( FAILED )) && warn "failed: ${FAILED_NAMES[*]}"
echo "$PASSED passed, $FAILED failed"
(( FAILED == 0 ))

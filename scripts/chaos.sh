#!/usr/bin/env bash
# `make chaos`: the full failure drill of several nodes (tests/chaos): starts the cluster (scripts/cluster.sh up:
# three server nodes behind HAProxy, a three-node Cassandra), runs the drill against it, and stops the cluster.
# The short version runs in `make test` (tests/crash: a three-process cluster on the single-node stack).
# Then the fuzzing: every Go fuzz target for FUZZTIME (scripts/fuzz.sh) and the socket-level fuzzer with 100,000
# frames (scripts/sockfuzz.sh); CHAOS_FUZZ=0 skips them. Then the database outage drills (tests/outage at full
# length); CHAOS_OUTAGES=0 skips them.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
START="$(_ts)"
"$ROOT/scripts/deps.sh" go jsclient
# A long flush delay keeps the owner's queue non-empty when it dies; a short lease makes the drill quicker.
export PARLEY_FLUSH_DELAY="${PARLEY_FLUSH_DELAY:-200ms}" PARLEY_CLUSTER_LEASE_TTL="${PARLEY_CLUSTER_LEASE_TTL:-3s}"
export PARLEY_SEND_RATE=1000 PARLEY_SEND_BURST=1000 PARLEY_API_RATE=1000 PARLEY_API_BURST=10000 # the drill reads whole histories
"$ROOT/scripts/cluster.sh" up
set +e
go test -tags chaos -count=1 -timeout 30m -v ./tests/chaos/ 2>&1 | tee "$LOCAL/chaos.log"
rc=${PIPESTATUS[0]}
set -e
[[ "${CHAOS_KEEP:-0}" == 1 ]] || "$ROOT/scripts/cluster.sh" down
log "chaos drill finished in $(_elapsed "$START") (log: .local/chaos.log)"
if [[ "${CHAOS_FUZZ:-1}" == 1 ]]; then
  # The drill's settings above are for the cluster; the fuzzers run the product's defaults.
  unset PARLEY_FLUSH_DELAY PARLEY_CLUSTER_LEASE_TTL PARLEY_SEND_RATE PARLEY_SEND_BURST PARLEY_API_RATE PARLEY_API_BURST
  "$ROOT/scripts/fuzz.sh" || rc=1
  "$ROOT/scripts/sockfuzz.sh" || rc=1 # starts the single-node stack if it is not running
fi
if [[ "${CHAOS_OUTAGES:-1}" == 1 ]]; then
  # The database drills at full length (tests/outage; each stops a private instance of its store): Postgres and
  # MongoDB down a minute while members chat, MongoDB down a minute under 200 msg/s with receipts, reactions and
  # presence (the heap must level off), then Cassandra SIGKILLed for 30 s under 500 msg/s (RELIABILITY.md).
  "$ROOT/scripts/stack.sh" up
  set -a; source "$LOCAL/stack.env"; set +a
  PARLEY_OUTAGE_SECONDS=60 go test -count=1 -timeout 20m -v -run 'TestPostgresOutage|TestMongoOutage' ./tests/outage/ 2>&1 \
    | tee -a "$LOCAL/chaos.log" | grep -E '^(---|ok|FAIL)|outage|mongo_test|postgres_test' || true
  [[ "${PIPESTATUS[0]}" == 0 ]] || rc=1
  PARLEY_OUTAGE_LOAD=200 PARLEY_OUTAGE_SECONDS=60 go test -count=1 -timeout 20m -v -run TestMongoOutageMemoryUnderLoad ./tests/outage/ 2>&1 \
    | tee -a "$LOCAL/chaos.log" | grep -E '^(---|ok|FAIL)|FIGURES|mongo_memory_test' || true
  [[ "${PIPESTATUS[0]}" == 0 ]] || rc=1
  PARLEY_OUTAGE_LOAD=500 PARLEY_OUTAGE_SECONDS=30 go test -count=1 -timeout 20m -v -run TestCassandraOutageUnderLoad ./tests/outage/ 2>&1 \
    | tee -a "$LOCAL/chaos.log" | grep -E '^(---|ok|FAIL)|FIGURES|load_test' || true
  [[ "${PIPESTATUS[0]}" == 0 ]] || rc=1
fi
exit "$rc"

#!/usr/bin/env bash
# `make soak`: mixed traffic against the real server binary on the local databases for SOAK_DURATION (30m), with
# the server's RSS and goroutines sampled and p99 send→deliver reported per interval (tests/soak, build tag soak).
# It fails on any error, on RSS or goroutines growing faster than the limits (least-squares slope over the second
# half), or on an interval's p99 over SOAK_MAX_P99. The report (report.md, samples.csv, server.log) goes to
# .local/soak/<time>/. RELIABILITY.md holds the figures of a run.
#
#   SOAK_DURATION=5m make soak        a shorter run (errors, goroutines and p99 judged; RSS only reported)
#   SOAK_USERS (60)  SOAK_RATE (20 msg/s in all)  SOAK_CHURN (0.25 of the users)  SOAK_INTERVAL (1m)  SOAK_SAMPLE (10s)
#   SOAK_MAX_RSS_SLOPE (60 MiB/hour)  SOAK_MAX_GOROUTINE_SLOPE (300/hour)  SOAK_MAX_P99 (2s)
#   SOAK_WARMUP (10m, the retry horizon: time-bounded caches fill meanwhile): the RSS slope is judged only when the
#   second half starts after it, i.e. in runs of 20 minutes or more
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
START="$(_ts)"
[[ "${SOAK_NO_STACK:-0}" == 1 ]] || "$ROOT/scripts/stack.sh" up # SOAK_NO_STACK=1: the stack as it runs
"$ROOT/scripts/deps.sh" go
set -a; source "$LOCAL/stack.env"; set +a
export SOAK_OUT="${SOAK_OUT:-$LOCAL/soak/$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$SOAK_OUT"
log "soak for ${SOAK_DURATION:-30m}; report in ${SOAK_OUT#"$ROOT"/}"
set +e
# No -race: the soak measures the product's own memory and latency. The run ends itself after SOAK_DURATION.
go test -tags soak -count=1 -timeout 24h -run '^TestSoak$' -v ./tests/soak/ 2>&1 | tee "$SOAK_OUT/soak.log"
rc=${PIPESTATUS[0]}
set -e
log "soak finished in $(_elapsed "$START") (exit $rc; report: ${SOAK_OUT#"$ROOT"/}/report.md)"
exit "$rc"

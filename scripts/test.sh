#!/usr/bin/env bash
# `make test`: set up everything (databases, dependencies), then run every test suite and print coverage.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
START="$(_ts)"

"$ROOT/scripts/stack.sh" up
"$ROOT/scripts/deps.sh" go jsclient frontend e2e chromium ffmpeg
set -a; source "$LOCAL/stack.env"; set +a
export PARLEY_REQUIRE_STACK=1

# go vet, gofmt, staticcheck, govulncheck and ESLint (make lint).
step "lint" "$ROOT/scripts/lint.sh"

mkdir -p "$ROOT/coverage"
go_tests() {
  # -p 2: two test binaries at a time on two cores; each package's tests run in parallel inside.
  go test -race -p 2 -timeout 20m -coverpkg=./cmd/server/app,./controllers/...,./services/...,./repositories/...,./internal/... \
    -coverprofile="$ROOT/coverage/go.out" ./... 2>&1 | tee "$ROOT/coverage/go-test.log"
  return "${PIPESTATUS[0]}"
}
step "Go tests (race detector, real databases)" go_tests
step "Go coverage by layer" "$ROOT/scripts/coverage.sh" "$ROOT/coverage/go.out"
# The official Engine.IO and Socket.IO compliance suites against cmd/conformance (24/24 and 32/32 required).
step "protocol conformance (official Engine.IO and Socket.IO suites)" "$ROOT/scripts/conformance.sh"
step "Docker lint (hadolint, ShellCheck, compose-go)" "$ROOT/docker/lint.sh"

step "front-end unit tests (Vitest)" bash -c "cd '$ROOT/frontend' && npm test --silent"
step "front-end build" bash -c "cd '$ROOT/frontend' && npm run build --silent"
step "end-to-end tests (Chromium)" bash -c "cd '$ROOT/e2e' && npm test --silent"
step "benchmark smoke run (functional only: loss, duplicates, errors)" "$ROOT/bench/run.sh" --smoke
log "all tests passed in $(_elapsed "$START")"
# Any failure above exits at once (step dies), so reaching here means every suite passed.
echo "suites: $(grep -c '^step "' "$0") passed, 0 failed"

#!/usr/bin/env bash
# `make lint` (and the first step of `make test`): go vet, gofmt, staticcheck, govulncheck and ESLint.
#
# govulncheck runs offline, against the Go vulnerability database of a pinned golang.org/x/vulndb version (its
# OSV files, indexed by vulndb's own indexdb into .local/vulndb/): the answer is the same on every machine and in
# CI, and it learns of newer vulnerabilities when VULNDB is bumped (its date is in the version). Findings in code
# we call fail the run; findings only in modules we require are listed by `-show verbose`.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

STATICCHECK=honnef.co/go/tools/cmd/staticcheck@v0.8.2
GOVULNCHECK=golang.org/x/vuln/cmd/govulncheck@v1.9.0
VULNDB=v0.0.0-20261105234957-e22db6528018 # golang.org/x/vulndb, 2026-11-05

gofmt_check() {
  local files
  files="$(gofmt -l $(git ls-files '*.go'))"
  [[ -z "$files" ]] || { echo "$files"; echo "gofmt: the files above are not formatted (gofmt -w)" >&2; return 1; }
}

vulndb_dir() { echo "$LOCAL/vulndb/$VULNDB"; }

build_vulndb() {
  local dir src
  dir="$(vulndb_dir)"
  [[ -f "$dir/index/db.json" ]] && return 0
  # Outside our module: `go mod download` and `go run pkg@version` must not touch go.mod/go.sum.
  src="$(cd / && GOFLAGS= GOWORK=off go mod download -json "golang.org/x/vulndb@$VULNDB" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"
  rm -rf "$dir.tmp"
  (cd "$LOCAL" && go run "golang.org/x/vulndb/cmd/indexdb@$VULNDB" -vulns "$src/data/osv" -out "$dir.tmp")
  mv "$dir.tmp" "$dir"
}

govulncheck_run() {
  build_vulndb
  go run "$GOVULNCHECK" -db "file://$(vulndb_dir)" ./...
}

step "go vet" go vet ./...
step "gofmt" gofmt_check
step "staticcheck" go run "$STATICCHECK" ./...
step "govulncheck (Go vulnerability database of $VULNDB)" govulncheck_run
"$ROOT/scripts/deps.sh" frontend
step "ESLint (front end)" bash -c "cd '$ROOT/frontend' && npm run lint --silent"

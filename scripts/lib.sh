#!/usr/bin/env bash
# Shared helpers for the local stack scripts. Source it; do not run it.
# Every step prints what it does and how long it took; failures print a clear error and exit non-zero.
set -Eeuo pipefail

ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
LOCAL="${LOCAL:-$ROOT/.local}"          # the one ignored folder that holds all local state
# A checkout whose .local links to another's (a git worktree) must name the same paths the running databases were
# started with: their pid checks compare command lines, and a mismatch made one delete the other's pid file.
if [[ -L "$LOCAL" ]]; then LOCAL="$(readlink -f "$LOCAL")"; fi
LOGS="$LOCAL/logs"
DATA="$LOCAL/data"
BIN="$LOCAL/bin"
RUNDIR="$LOCAL/run"
mkdir -p "$LOGS" "$DATA" "$BIN" "$RUNDIR"

# Ports of the project-owned databases (loopback only). Chosen off the defaults so a system
# database on the same machine does not collide with ours.
PG_PORT="${PG_PORT:-55432}"
REDIS_PORT="${REDIS_PORT:-56379}"
FERRETDB_PORT="${FERRETDB_PORT:-57017}"
CASSANDRA_PORT="${CASSANDRA_PORT:-59042}"
CASSANDRA_STORAGE_PORT="${CASSANDRA_STORAGE_PORT:-57000}"
OPENSEARCH_PORT="${OPENSEARCH_PORT:-59200}"
OPENSEARCH_TRANSPORT_PORT="${OPENSEARCH_TRANSPORT_PORT:-59300}"
S3_PORT="${S3_PORT:-57070}"

export DEBIAN_FRONTEND=noninteractive
# The Go toolchain everything is built and tested with (go.mod's toolchain line, which a machine whose own Go is
# older ignores when GOTOOLCHAIN=local): the go command fetches it from the module proxy once (~76 MB). Go 1.26.8
# has standard-library vulnerabilities on our call paths (net/http, crypto/tls, html/template; make lint).
export GOTOOLCHAIN=go1.27.3

_ts() { date +%s.%N; }
_elapsed() { awk -v a="$1" -v b="$(_ts)" 'BEGIN { printf "%.1fs", b - a }'; }

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
warn() { printf '\033[1;33mwarning:\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# step "description" command args... — runs a command, prints its duration, dies with a clear message on failure.
step() {
  local desc="$1"; shift
  local start; start="$(_ts)"
  log "$desc ..."
  if "$@"; then
    log "$desc: done in $(_elapsed "$start")"
  else
    local rc=$?
    die "$desc failed (exit $rc)"
  fi
}

# show_log_tail FILE — the last lines of a database log, printed when it does not become ready.
show_log_tail() {
  local f="$1"
  if [[ -f "$f" ]]; then
    printf -- '--- last 40 lines of %s ---\n' "$f" >&2
    tail -n 40 "$f" >&2 || true
    printf -- '--- end of %s ---\n' "$f" >&2
  fi
}

# wait_until TIMEOUT_SECONDS LOGFILE DESCRIPTION command args... — polls command until it succeeds.
wait_until() {
  local timeout="$1" logfile="$2" desc="$3"; shift 3
  local start; start="$(_ts)"
  local deadline=$(( $(date +%s) + timeout ))
  until "$@" >/dev/null 2>&1; do
    if (( $(date +%s) >= deadline )); then
      show_log_tail "$logfile"
      printf '\033[1;31merror:\033[0m %s not ready after %ss\n' "$desc" "$timeout" >&2
      return 1
    fi
    sleep 0.3
  done
  log "$desc ready in $(_elapsed "$start")"
}

# apt_install PKG... — installs Debian packages that are missing, non-interactively; runs apt-get update once.
apt_install() {
  local missing=()
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  (( ${#missing[@]} == 0 )) && return 0
  log "installing Debian packages: ${missing[*]}"
  local stamp="$LOCAL/.apt-updated"
  if [[ ! -f "$stamp" ]] || (( $(date +%s) - $(stat -c %Y "$stamp") > 86400 )); then
    apt-get update -qq && touch "$stamp"
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# pid_alive PIDFILE — true if the pid recorded in the file is a running process.
pid_alive() {
  [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

# port_busy PORT — true if something already listens on 127.0.0.1:PORT.
port_busy() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

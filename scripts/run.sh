#!/usr/bin/env bash
# `make run`: start the databases, build the front end and the server, and serve everything on one port.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
START="$(_ts)"
"$ROOT/scripts/stack.sh" up
"$ROOT/scripts/deps.sh" go frontend ffmpeg
# Rebuild the front end only when its sources changed since the last build.
if [[ ! -f "$ROOT/frontend/dist/index.html" ]] || [[ -n "$(find "$ROOT/frontend/src" "$ROOT/frontend/index.html" "$ROOT/frontend/package-lock.json" -newer "$ROOT/frontend/dist/index.html" -print -quit)" ]]; then
  step "building the front end" bash -c "cd '$ROOT/frontend' && npm run build --silent"
else
  log "front end is up to date (frontend/dist)"
fi
mkdir -p "$ROOT/bin"
step "building the server" go build -trimpath -o "$ROOT/bin/parley" ./cmd/server
step "building the key service" go build -trimpath -o "$ROOT/bin/parley-keys" ./cmd/keys
set -a; source "$LOCAL/stack.env"; set +a
export PARLEY_DATA_DIR="${PARLEY_DATA_DIR:-$LOCAL}"
export PARLEY_STATIC_DIR="${PARLEY_STATIC_DIR:-$ROOT/frontend/dist}"
# Development only (the server's defaults are loopback and no extra origins): the app also opened as
# 127.0.0.1:8080, and the Vite dev server (npm run dev) in front of this one.
export PARLEY_HTTP_ADDR="${PARLEY_HTTP_ADDR:-127.0.0.1:8080}"
export PARLEY_ALLOWED_ORIGINS="${PARLEY_ALLOWED_ORIGINS:-http://127.0.0.1:8080,http://localhost:5173}"
log "set-up finished in $(_elapsed "$START"); serving on http://localhost:8080 (Ctrl-C stops the server; 'make stop' stops the databases)"
# The key service (end-to-end encrypted DMs, README "The key service") runs beside the server on its own port
# and stops with it.
export PARLEY_KEYS_ADDR="${PARLEY_KEYS_ADDR:-127.0.0.1:8081}"
# The server proxies /keys/ to it, so the web app talks to one origin (its CSP allows connect-src 'self' only).
export PARLEY_KEYS_URL="${PARLEY_KEYS_URL:-http://$PARLEY_KEYS_ADDR}"
# Both read it: the key service publishes its notices there, the server relays them to the browsers (e2ee:sync).
export PARLEY_KEYS_REDIS_URL="${PARLEY_KEYS_REDIS_URL:-$PARLEY_REDIS_URL}"
"$ROOT/bin/parley-keys" &
KEYS_PID=$!
trap 'kill "$KEYS_PID" 2>/dev/null; wait "$KEYS_PID" 2>/dev/null' EXIT
"$ROOT/bin/parley"

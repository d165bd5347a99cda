#!/usr/bin/env bash
# Installs the project's build and test dependencies (Go modules, npm packages, Chromium for e2e) when missing.
# Usage: scripts/deps.sh [go] [frontend] [jsclient] [chromium] [ffmpeg]   (no argument = all)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ARGS=("$@")
has() { [[ ${#ARGS[@]} -eq 0 ]] && return 0; local a; for a in "${ARGS[@]}"; do [[ "$a" == "$1" ]] && return 0; done; return 1; }

need_cmd() { command -v "$1" >/dev/null || die "$1 is not installed (this project expects the polyglot machine: Go, Node/npm, Java 17)"; }

# npm_ci DIR — installs node_modules from the lockfile only when the lockfile changed since the last install.
npm_ci() {
  local dir="$1" stamp="$1/node_modules/.parley-lock-hash" hash
  [[ -f "$dir/package-lock.json" ]] || { (cd "$dir" && npm install --no-audit --no-fund --loglevel=error); return; }
  hash="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$hash" ]]; then return 0; fi
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) && echo "$hash" >"$stamp"
}

if has go; then need_cmd go; step "downloading Go modules" go mod download; fi
if has jsclient; then need_cmd npm; step "installing socket.io-client for socket tests" npm_ci "$ROOT/tests/jsclient"; fi
if has frontend; then need_cmd npm; step "installing front-end packages" npm_ci "$ROOT/frontend"; fi
if has e2e; then export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1; step "installing e2e packages" npm_ci "$ROOT/e2e"; fi
if has chromium; then step "installing Chromium (Debian) for end-to-end tests" apt_install chromium; fi
# Video poster frames (issue #17): Debian's ffmpeg, 80 packages, ~55 MB download; installing it took 16.6 s here
# (apt-get update included, 2026-12-06). Without it the server runs and videos get the player's generic poster.
if has ffmpeg; then step "installing ffmpeg (Debian) for video poster frames" apt_install ffmpeg; fi

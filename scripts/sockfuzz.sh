#!/usr/bin/env bash
# The socket-level fuzzer at full size (tests/sockfuzz; `make chaos` runs it): SOCKFUZZ_FRAMES (100,000) hostile
# frames over WebSocket and long-polling against a fully wired server on the local databases, then no 5xx, no
# panic in the server's log, /readyz 200, and a normal client still chats. `make test` runs the same test with
# 10,000 frames under the race detector. The figures go to .local/sockfuzz.txt.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
START="$(_ts)"
[[ "${SOCKFUZZ_NO_STACK:-0}" == 1 ]] || "$ROOT/scripts/stack.sh" up # SOCKFUZZ_NO_STACK=1: the stack as it runs
"$ROOT/scripts/deps.sh" go
set -a; source "$LOCAL/stack.env"; set +a
export SOCKFUZZ_FRAMES="${SOCKFUZZ_FRAMES:-100000}" SOCKFUZZ_REPORT="$LOCAL/sockfuzz.txt"
# No -race here: the race detector's run is the short one in `make test`; this one is about volume.
set +e
go test -count=1 -timeout 60m -run '^TestHostileFrames$' -v ./tests/sockfuzz/ >"$LOCAL/sockfuzz.log" 2>&1
rc=$?
set -e
grep -E '^(--- |PASS|FAIL|ok|\s+sockfuzz_test)' "$LOCAL/sockfuzz.log" || true
log "socket fuzzer finished in $(_elapsed "$START") (exit $rc): $(cat "$SOCKFUZZ_REPORT" 2>/dev/null || echo 'no report')"
exit "$rc"

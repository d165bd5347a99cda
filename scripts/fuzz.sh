#!/usr/bin/env bash
# `make fuzz`: every Go native fuzz target of the repository (func FuzzXxx in a _test.go file, found by grep, so a
# new target is picked up without editing this file), each for FUZZTIME (30s). The seed corpora (f.Add and
# testdata/fuzz/) also run in plain `go test`, so `make test` covers them; this runs the fuzzer proper.
#
#   FUZZTIME=2m scripts/fuzz.sh                 every target for 2 minutes
#   FUZZ_TARGETS='FuzzRequests FuzzReadFrame'   only these
#   FUZZ_SAVE=1                                 copy up to FUZZ_SAVE_MAX (40) of the smallest inputs the fuzzer found
#                                               interesting into the target's testdata/fuzz/ (commit them: they then
#                                               run in every `go test`)
#
# A failing input is written by Go to <package>/testdata/fuzz/<target>/ and the script exits non-zero; keep the
# file with the fix (it becomes a regression test).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
START="$(_ts)"
"$ROOT/scripts/deps.sh" go
FUZZTIME="${FUZZTIME:-30s}"
FUZZ_SAVE_MAX="${FUZZ_SAVE_MAX:-40}"
cache="$(go env GOCACHE)/fuzz/$(go list -m)"

failed=()
ran=0
while IFS=: read -r file name; do
  pkg="./$(dirname "$file")"
  if [[ -n "${FUZZ_TARGETS:-}" && " $FUZZ_TARGETS " != *" $name "* ]]; then
    continue
  fi
  log "fuzzing $name in $pkg for $FUZZTIME"
  # -parallel 2: two workers on the machine's two cores.
  if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" -parallel 2 "$pkg" 2>&1 | tail -n 4; then
    ran=$((ran + 1))
  else
    failed+=("$name ($pkg)")
  fi
  if [[ "${FUZZ_SAVE:-0}" == 1 && -d "$cache/${pkg#./}/$name" ]]; then
    mkdir -p "$pkg/testdata/fuzz/$name"
    # The smallest first: they cover as much and keep the repository light.
    find "$cache/${pkg#./}/$name" -type f -printf '%s %p\n' | sort -n | head -n "$FUZZ_SAVE_MAX" |
      while read -r _ f; do cp -n "$f" "$pkg/testdata/fuzz/$name/"; done
  fi
done < <(grep -rHo --include='*_test.go' --exclude-dir=node_modules '^func Fuzz[A-Za-z0-9_]*' . |
  sed 's#^\./##; s#:func #:#' | sort -u)

log "fuzzing finished in $(_elapsed "$START"): $ran passed, ${#failed[@]} failed"
if (( ${#failed[@]} > 0 )); then
  die "fuzz targets failed: ${failed[*]} (the failing inputs are under each package's testdata/fuzz/)"
fi

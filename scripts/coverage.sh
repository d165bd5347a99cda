#!/usr/bin/env bash
# Prints statement coverage per layer (controllers, services, repositories, internal) from a Go cover profile.
# A block counts as covered if any test binary covered it (profiles from several packages repeat blocks).
set -euo pipefail
profile="${1:?usage: coverage.sh go.out}"
awk -F'[: ]' '
  NR == 1 { next }
  {
    key = $1 ":" $2; stmts[key] = $3; if ($4 > 0) hit[key] = 1
  }
  END {
    for (k in stmts) {
      split(k, p, ":"); path = p[1]
      sub(/^github.com\/parleychat\/parley\//, "", path)
      split(path, parts, "/"); layer = parts[1]
      if (path ~ /^internal\/testenv/) continue
      total[layer] += stmts[k]; if (k in hit) covered[layer] += stmts[k]
      all += stmts[k]; if (k in hit) allc += stmts[k]
    }
    for (l in total) printf "coverage %-13s %6.1f%%  (%d of %d statements)\n", l, 100 * covered[l] / total[l], covered[l], total[l]
    printf "coverage %-13s %6.1f%%\n", "total", 100 * allc / all
  }' "$profile" | sort

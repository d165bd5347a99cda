#!/usr/bin/env bash
# Prints statement coverage per layer (cmd: the composition root, controllers, services, repositories, internal)
# from a Go cover profile.
# A block counts as covered if any test binary covered it (profiles from several packages repeat blocks).
# Fails when controllers, services or repositories fall below COVERAGE_MIN (default 80) percent.
set -euo pipefail
profile="${1:?usage: coverage.sh go.out}"
report="$(awk -F'[: ]' '
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
  }' "$profile" | sort)"
echo "$report"
echo "$report" | awk -v min="${COVERAGE_MIN:-80}" '
  $2 ~ /^(controllers|services|repositories)$/ && $3 + 0 < min { printf "error: coverage of %s is %s, below %d%%\n", $2, $3, min; bad = 1 }
  END { exit bad }'

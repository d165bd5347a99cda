#!/usr/bin/env bash
# Entrypoint wrapper for the official cassandra image (compose.yaml mounts it read-only and runs it with bash,
# so it needs no exec bit). It switches the commit log to group sync, then hands over to the image's own
# docker-entrypoint.sh with the original arguments.
#
# Why: Parley acknowledges a chat message only after its Cassandra write succeeded. With the image's default
# `commitlog_sync: periodic` (fsync every 10 s) Cassandra acknowledges a write before it is on disk, so a crash or
# power loss could drop up to 10 s of messages the users were told were sent. `group` makes Cassandra fsync the
# commit log before acknowledging, batching the writes that arrive within commitlog_sync_group_window into one
# fsync (the same setting the local stack uses, scripts/cassandra/cassandra.yaml.tmpl).
#
# The official image only maps a few settings from CASSANDRA_* variables (cluster name, addresses, seeds,
# snitch, num_tokens, dc/rack), not the commit log, hence the edit. Cassandra refuses to start in group mode when
# commitlog_sync_period is still set, so that line is removed. The edit is idempotent (a restarted container
# runs it again on the already-edited file) and fails loudly if the file no longer looks as expected.
set -euo pipefail

conf="${CASSANDRA_CONF:-/etc/cassandra}/cassandra.yaml"
window="${CASSANDRA_COMMITLOG_SYNC_GROUP_WINDOW:-2ms}"

[[ -f "$conf" ]] || { echo "parley: $conf not found" >&2; exit 1; }
if ! grep -Eq '^commitlog_sync:' "$conf"; then
  echo "parley: no commitlog_sync line in $conf; the image's config layout changed, update docker/cassandra/entrypoint.sh" >&2
  exit 1
fi
sed -i -E \
  -e 's/^commitlog_sync:.*/commitlog_sync: group/' \
  -e '/^commitlog_sync_period:/d' \
  -e '/^commitlog_sync_group_window:/d' \
  "$conf"
printf 'commitlog_sync_group_window: %s\n' "$window" >>"$conf"
echo "parley: $conf set to commitlog_sync: group, commitlog_sync_group_window: $window" >&2

exec docker-entrypoint.sh "$@"

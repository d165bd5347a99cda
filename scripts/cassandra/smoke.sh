#!/usr/bin/env bash
# Exercise the Cassandra stack functions by hand: install, start, a CQL round trip (protocol v5 through the
# apache gocql v2 driver), status. Usage: scripts/cassandra/smoke.sh [--stop]   (--stop: stop the node after)
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
source "$ROOT/scripts/stack/cassandra.sh"

step "installing cassandra" cassandra_install
step "starting cassandra" cassandra_start
step "starting cassandra again (must be a no-op)" cassandra_start
step "CQL round trip" cassandra_cql \
  "CREATE KEYSPACE IF NOT EXISTS smoke WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}" \
  "CREATE TABLE IF NOT EXISTS smoke.t (id int PRIMARY KEY, body text)" \
  "INSERT INTO smoke.t (id, body) VALUES (1, 'hello')" \
  "SELECT id, body FROM smoke.t WHERE id = 1" \
  "DROP KEYSPACE smoke"
cassandra_status
if [[ "${1:-}" == "--stop" ]]; then step "stopping cassandra" cassandra_stop; cassandra_status; fi

# Redis (Debian package) on 127.0.0.1:$REDIS_PORT, data under $DATA/redis. Used for multi-node fan-out.
# Sourced by scripts/stack.sh after lib.sh.

REDIS_DATA="$DATA/redis"
REDIS_LOG="$LOGS/redis.log"
REDIS_PID="$RUNDIR/redis.pid"

redis_install() {
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null || apt_install redis-server
}

redis_ready() { [[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" PING 2>/dev/null)" == "PONG" ]]; }

redis_start() {
  if redis_ready; then log "redis already running on 127.0.0.1:$REDIS_PORT"; return 0; fi
  if port_busy "$REDIS_PORT"; then
    echo "port $REDIS_PORT is already used by a process that does not answer PING; stop it or set REDIS_PORT" >&2
    return 1
  fi
  mkdir -p "$REDIS_DATA"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$REDIS_DATA" --daemonize yes \
    --pidfile "$REDIS_PID" --logfile "$REDIS_LOG" --appendonly yes --save "" --protected-mode yes \
    || { show_log_tail "$REDIS_LOG"; return 1; }
  wait_until 30 "$REDIS_LOG" redis redis_ready
}

redis_stop() {
  redis_ready || return 0
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" SHUTDOWN >/dev/null 2>&1 || true
  local i
  for i in $(seq 1 50); do redis_ready || break; sleep 0.2; done
  rm -f "$REDIS_PID"
}

redis_status() {
  if redis_ready; then echo "redis: ready on 127.0.0.1:$REDIS_PORT"; else echo "redis: not running"; fi
}

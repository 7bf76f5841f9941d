#!/usr/bin/env bash
# A real Redis for @scale-from-zero/redis's tests: redis-server from Debian on 127.0.0.1:6390
# (not the default port, so it never clashes with a Redis already on the machine), running in
# the background after this script exits. Idempotent; every wait is bounded. Needs root.
#
# What the tests read (the default matches, so nothing needs exporting):
#   url   redis://127.0.0.1:6390   (SFZ_REDIS_URL)
set -euo pipefail

PORT="${SFZ_REDIS_PORT:-6390}"
DIR=/run/scale-from-zero-redis

if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  timeout 600 apt-get update -qq
  timeout 900 apt-get install -y -qq --no-install-recommends redis-server redis-tools >/dev/null
fi

answers() {
  [ "$(timeout 5 redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null)" = "PONG" ]
}

if ! answers; then
  mkdir -p "$DIR"
  # No persistence: the tests' keys are throwaway, and a dump file would outlive them.
  redis-server --bind 127.0.0.1 --port "$PORT" --daemonize yes --save "" --appendonly no \
    --dir "$DIR" --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log"
  for _ in $(seq 1 60); do
    answers && break
    sleep 0.5
  done
  if ! answers; then
    echo "redis-server did not answer on 127.0.0.1:$PORT within 30s:" >&2
    tail -n 20 "$DIR/redis.log" >&2 || true
    exit 1
  fi
fi
echo "redis $(redis-server --version | awk '{print $3}' | sed 's/^v=//') on redis://127.0.0.1:$PORT"

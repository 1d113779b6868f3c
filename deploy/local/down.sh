#!/usr/bin/env bash
# Stop what up.sh started, and nothing else.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
run="$root/.local/run"
export PATH="$PATH:/usr/sbin:/usr/lib/rabbitmq/bin"

if [ -f "$run/mongo-compat.pid" ]; then
  pid=$(cat "$run/mongo-compat.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    echo "[down] stopped mongo-compat ($pid)"
  fi
  rm -f "$run/mongo-compat.pid"
fi
if [ -f "$run/rabbitmq.started" ]; then
  rabbitmqctl shutdown >/dev/null 2>&1 && echo "[down] stopped RabbitMQ"
  rm -f "$run/rabbitmq.started"
fi

#!/usr/bin/env bash
# Make RabbitMQ and a MongoDB-protocol server answer on loopback. Safe to run twice:
# whatever already answers is used as it is; only what this script starts is
# recorded under .local/ so that down.sh stops exactly that.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
state="$root/.local"
mkdir -p "$state/bin" "$state/logs" "$state/run"

mongo_url=${SECMONKEY_MONGO_URL:-mongodb://127.0.0.1:27017/}
amqp_url=${SECMONKEY_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/}
timeout=${SECMONKEY_UP_TIMEOUT:-120}

# host and port of a URL such as scheme://user:pass@host:port/path
host_of() { local h=${1#*://}; h=${h#*@}; h=${h%%/*}; h=${h%%\?*}; echo "${h%%:*}"; }
port_of() { local h=${1#*://}; h=${h#*@}; h=${h%%/*}; h=${h%%\?*}; [[ $h == *:* ]] && echo "${h##*:}" || echo "$2"; }
answers() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
say() { echo "[up] $*"; }

mongo_host=$(host_of "$mongo_url"); mongo_port=$(port_of "$mongo_url" 27017)
amqp_host=$(host_of "$amqp_url"); amqp_port=$(port_of "$amqp_url" 5672)

# --- RabbitMQ -------------------------------------------------------------
if answers "$amqp_host" "$amqp_port"; then
  say "RabbitMQ already answers on $amqp_host:$amqp_port"
else
  if ! command -v rabbitmq-server >/dev/null 2>&1 && [ ! -x /usr/sbin/rabbitmq-server ]; then
    if [ "$(id -u)" != 0 ]; then
      echo "[up] RabbitMQ is not installed and this is not root: install rabbitmq-server or set SECMONKEY_AMQP_URL" >&2
      exit 1
    fi
    say "installing rabbitmq-server from Debian"
    apt-get update -qq >"$state/logs/apt.log" 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >>"$state/logs/apt.log" 2>&1 \
      || { echo "[up] apt-get install rabbitmq-server failed, see $state/logs/apt.log" >&2; exit 1; }
  fi
  export PATH="$PATH:/usr/sbin:/usr/lib/rabbitmq/bin"
  say "starting RabbitMQ (detached)"
  RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$amqp_port" \
    RABBITMQ_CONFIG_FILE="$root/deploy/rabbitmq/rabbitmq.conf" rabbitmq-server -detached \
    >"$state/logs/rabbitmq-start.log" 2>&1 || true
  touch "$state/run/rabbitmq.started"
fi

# --- MongoDB protocol (FerretDB over SQLite) --------------------------------
if answers "$mongo_host" "$mongo_port"; then
  say "MongoDB protocol already answers on $mongo_host:$mongo_port"
else
  src="$root/deploy/local/mongo-compat"
  bin="$state/bin/mongo-compat"
  sum=$(cat "$src"/*.go "$src/go.mod" "$src/go.sum" "$src"/build.sh "$src"/patches/*.patch | sha256sum | cut -d" " -f1)
  if [ ! -x "$bin" ] || [ "$(cat "$bin.sum" 2>/dev/null)" != "$sum" ]; then
    command -v go >/dev/null 2>&1 || { echo "[up] Go is needed to build deploy/local/mongo-compat" >&2; exit 1; }
    say "building mongo-compat (FerretDB 1.24 embedded; first build takes a few minutes)"
    "$src/build.sh" "$bin" >"$state/logs/mongo-compat-build.log" 2>&1 \
      || { echo "[up] go build failed, see $state/logs/mongo-compat-build.log" >&2; exit 1; }
    echo "$sum" >"$bin.sum"
  fi
  say "starting mongo-compat on $mongo_host:$mongo_port"
  # Supervised: if the server dies (FerretDB's SQLite backend has crashed under heavy
  # parallel load), it is restarted within a second and clients reconnect.
  setsid nohup bash -c '
    trap "kill \$child 2>/dev/null; wait \$child; exit 0" TERM INT
    while true; do
      "$@" & child=$!
      wait $child; rc=$?
      echo "[up] mongo-compat exited with $rc; restarting"
      sleep 1
    done' mongo-compat "$bin" -listen "$mongo_host:$mongo_port" -data "$state/mongo-data" \
    >>"$state/logs/mongo-compat.log" 2>&1 </dev/null &
  echo $! >"$state/run/mongo-compat.pid"
fi

# --- wait until both answer -------------------------------------------------
deadline=$((SECONDS + timeout))
for what in "RabbitMQ $amqp_host $amqp_port" "MongoDB-protocol $mongo_host $mongo_port"; do
  read -r name host port <<<"$what"
  until answers "$host" "$port"; do
    if [ $SECONDS -ge $deadline ]; then
      echo "[up] $name did not answer on $host:$port within ${timeout}s; logs in $state/logs/" >&2
      exit 1
    fi
    sleep 0.5
  done
done
say "ready: $mongo_url  $amqp_url"

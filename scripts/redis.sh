#!/usr/bin/env bash
# A real Redis (Debian's redis-server) on loopback, for the replica tests and for trying several
# replicas locally. Persistence on (append-only file, fsync every second), so a restart keeps the queue.
#   scripts/redis.sh install            install the Debian package (once)
#   scripts/redis.sh start [DATA_DIR]   start on a free port (REDIS_PORT to choose), wait; prints REDIS_URL=...
#   scripts/redis.sh stop [DATA_DIR]    stop (SHUTDOWN, then by PID)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cmd="${1:-}"
data="$(realpath -m "${2:-${REDIS_DATA:-$here/../data/redis}}")"
export PATH="$PATH:/usr/sbin:/sbin"

case "$cmd" in
  install)
    if command -v redis-server >/dev/null 2>&1; then echo "redis-server is installed"; exit 0; fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null
    echo "redis-server installed"
    ;;
  start)
    command -v redis-server >/dev/null 2>&1 || { echo "Redis is not installed: run scripts/redis.sh install" >&2; exit 1; }
    if [ -f "$data/redis.pid" ] && kill -0 "$(cat "$data/redis.pid")" 2>/dev/null; then
      echo "REDIS_URL=$(cat "$data/url")"; exit 0
    fi
    mkdir -p "$data"
    port="${REDIS_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}"
    # Debian's service may run on 6379 too; this one is ours alone: its own port, dir and files.
    redis-server --bind 127.0.0.1 --port "$port" --dir "$data" --daemonize yes \
      --pidfile "$data/redis.pid" --logfile "$data/redis.log" \
      --appendonly yes --appendfsync everysec --save '' --protected-mode yes
    for _ in $(seq 1 100); do
      if redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then
        echo "redis://127.0.0.1:$port" > "$data/url"; echo "REDIS_URL=redis://127.0.0.1:$port"; exit 0
      fi
      sleep 0.05
    done
    echo "Redis did not start; see $data/redis.log" >&2
    exit 1
    ;;
  stop)
    [ -f "$data/url" ] || { echo "no Redis running from $data"; exit 0; }
    port="$(sed -e 's#.*:##' "$data/url")"
    pid="$(cat "$data/redis.pid" 2>/dev/null || true)"
    redis-cli -p "$port" shutdown >/dev/null 2>&1 || true
    for _ in $(seq 1 50); do [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
    rm -f "$data/redis.pid" "$data/url"
    echo "Redis stopped"
    ;;
  *)
    sed -n '2,7p' "$0" >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# A real OpenStack Glance (Debian's python3-glance, Zed) on loopback, for tests and for trying the
# OpenStack provider locally. Identity comes from trusted headers: never expose it beyond 127.0.0.1.
#   scripts/glance.sh install            install the Debian package (about 90 s, once)
#   scripts/glance.sh start [DATA_DIR]   render config, db_sync, start, wait; prints GLANCE_URL=...
#   scripts/glance.sh stop [DATA_DIR]    stop by PID
# GLANCE_PORT picks the port (default: a free one); GLANCE_WEB_HOSTS / GLANCE_WEB_PORTS feed
# [import_filtering_opts] for web-download (default: 127.0.0.1, any port).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cmd="${1:-}"
data="$(realpath -m "${2:-${GLANCE_DATA:-$here/../data/glance}}")"
# pyenv's python3 may shadow Debian's, which is the one that can import glance.
py=/usr/bin/python3

case "$cmd" in
  install)
    if $py -c 'import glance' 2>/dev/null; then echo "python3-glance is installed"; exit 0; fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-glance >/dev/null
    echo "python3-glance installed"
    ;;
  start)
    $py -c 'import glance' 2>/dev/null || { echo "Glance is not installed: run scripts/glance.sh install" >&2; exit 1; }
    if [ -f "$data/glance-api.pid" ] && kill -0 "$(cat "$data/glance-api.pid")" 2>/dev/null; then
      echo "GLANCE_URL=$(cat "$data/url")"; exit 0
    fi
    mkdir -p "$data/etc" "$data/images" "$data/staging" "$data/lock"
    port="${GLANCE_PORT:-$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}"
    sed -e "s#@DATA@#$data#g" -e "s#@PORT@#$port#g" \
        -e "s#@WEB_HOSTS@#${GLANCE_WEB_HOSTS:-127.0.0.1}#g" -e "s#@WEB_PORTS@#${GLANCE_WEB_PORTS:-}#g" \
        "$here/glance/glance-api.conf.in" > "$data/etc/glance-api.conf"
    cp "$here/glance/glance-api-paste.ini" "$data/etc/glance-api-paste.ini"
    echo '{}' > "$data/etc/policy.yaml"
    $py -c 'import sys; from glance.cmd.manage import main; sys.argv[0]="glance-manage"; sys.exit(main())' \
      --config-file "$data/etc/glance-api.conf" db_sync >"$data/db_sync.log" 2>&1
    setsid $py -c 'import sys; from glance.cmd.api import main; sys.argv[0]="glance-api"; sys.exit(main())' \
      --config-file "$data/etc/glance-api.conf" >"$data/glance-api.stdout" 2>&1 </dev/null &
    echo $! > "$data/glance-api.pid"
    url="http://127.0.0.1:$port"
    for _ in $(seq 1 300); do
      if curl -fsS -o /dev/null "$url/healthcheck" 2>/dev/null; then
        echo "$url" > "$data/url"; echo "GLANCE_URL=$url"; exit 0
      fi
      kill -0 "$(cat "$data/glance-api.pid")" 2>/dev/null || break
      sleep 0.1
    done
    echo "Glance did not start; see $data/glance-api.log and $data/glance-api.stdout" >&2
    exit 1
    ;;
  stop)
    [ -f "$data/glance-api.pid" ] || { echo "no Glance running from $data"; exit 0; }
    pid="$(cat "$data/glance-api.pid")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$data/glance-api.pid"
    echo "Glance stopped"
    ;;
  *)
    echo "usage: $0 install|start [DATA_DIR]|stop [DATA_DIR]" >&2; exit 2 ;;
esac

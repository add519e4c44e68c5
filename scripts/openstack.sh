#!/usr/bin/env bash
# A real OpenStack on loopback: Keystone (Debian python3-keystone, Zed; SQLite, fernet, gunicorn)
# and Glance in its keystone pipeline, which validates tokens, e.g. from application credentials.
# For tests and labs: never expose it beyond 127.0.0.1.
#   scripts/openstack.sh install          apt-get the Debian packages (Glance, Keystone, gunicorn, the openstack CLI)
#   scripts/openstack.sh start DATA_DIR   set up, start, provision; last line OPENSTACK_JSON=<path>
#   scripts/openstack.sh stop DATA_DIR    stop Glance, then Keystone, by PID
# Env: KEYSTONE_PORT / GLANCE_PORT (default: the previous ones if free, else free ones),
# KEYSTONE_TOKEN_EXPIRATION (3600 s), IMAGEGRAPH_ROLES ("member,admin").
# DATA_DIR/openstack.json (0600) holds the URLs, ids and secrets; passwords also sit in 0600 files
# under DATA_DIR (secrets.env, the Glance conf). Nothing is printed but URLs and that path.
# Short-lived tokens for expiry tests: scripts/openstack/issue-short-token.py (see its header).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cmd="${1:-}"
data="$(realpath -m "${2:-$here/../data/openstack}")"
ks="$data/keystone" gl="$data/glance" json="$data/openstack.json"
# pyenv's python3 may shadow Debian's, which is the one that can import keystone and glance.
py=/usr/bin/python3

# Only signal a PID that is still ours: the file may be stale and the PID reused.
alive() { [ -f "$1" ] && grep -qaE "$2" "/proc/$(cat "$1")/cmdline" 2>/dev/null; }

stop_one() { # PIDFILE PATTERN NAME
  if alive "$1" "$2"; then
    local pid; pid="$(cat "$1")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    # Started with setsid: the group also holds gunicorn's worker.
    kill -9 -- "-$pid" 2>/dev/null || true
    echo "$3 stopped"
  fi
  rm -f "$1"
}

stop_all() {
  stop_one "$gl/glance-api.pid" glance Glance
  stop_one "$ks/keystone.pid" gunicorn Keystone
}

fail() { echo "$1" >&2; stop_all >&2; exit 1; }

# A free loopback port, preferring $1 so that a restart keeps its URLs.
port() {
  $py -c 'import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try: s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError: s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])' "${1:-0}"
}

wait_for() { # URL PIDFILE PATTERN LOG
  local deadline=$((SECONDS + 90))
  while [ $SECONDS -lt $deadline ]; do
    # --max-time: a gunicorn master whose worker crash-loops keeps the port open but never answers.
    curl -fsS --max-time 2 -o /dev/null "$1" 2>/dev/null && return 0
    alive "$2" "$3" || return 1
    # A gunicorn worker that dies while booting is respawned forever: give up at the first one.
    grep -qE 'Worker failed to boot|Exception in worker process|Worker exiting' "$4" 2>/dev/null && return 1
    sleep 0.2
  done
  return 1
}

case "$cmd" in
  install)
    if $py -c 'import glance, keystone, gunicorn' 2>/dev/null && command -v openstack >/dev/null; then
      echo "OpenStack packages are installed"; exit 0
    fi
    apt-get update -qq
    # Not the `keystone` package: it pulls in debconf DB setup and a uwsgi service. The CLI
    # (python3-openstackclient) is what the tests drive Glance with from the operator's side.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      python3-glance python3-keystone python3-gunicorn python3-openstackclient >/dev/null
    echo "OpenStack packages installed"
    ;;

  start)
    $py -c 'import glance, keystone, gunicorn' 2>/dev/null \
      || { echo "OpenStack is not installed: run scripts/openstack.sh install" >&2; exit 1; }
    if alive "$ks/keystone.pid" gunicorn && alive "$gl/glance-api.pid" glance && [ -f "$json" ]; then
      echo "OPENSTACK_JSON=$json"; exit 0
    fi
    stop_all >/dev/null # half up: restart both so that ports, config and provisioning agree
    mkdir -p "$ks/etc" "$gl/etc" "$gl/images" "$gl/staging" "$gl/lock"
    chmod 700 "$data"
    # Passwords are made once per DATA_DIR, so a restart on old data keeps working credentials.
    if [ ! -f "$data/secrets.env" ]; then
      (umask 077; $py -c 'import secrets
for k in ("ADMIN", "GLANCE", "IMAGEGRAPH"): print(f"{k}_PASSWORD={secrets.token_urlsafe(24)}")' \
        > "$data/secrets.env")
    fi
    # shellcheck disable=SC1091
    . "$data/secrets.env"
    old_kport="" old_gport=""
    [ -f "$data/ports" ] && read -r old_kport old_gport < "$data/ports"
    kport="$(port "${KEYSTONE_PORT:-$old_kport}")"
    gport="$(port "${GLANCE_PORT:-$old_gport}")"
    [ "$gport" != "$kport" ] || gport="$(port 0)"
    echo "$kport $gport" > "$data/ports"
    kurl="http://127.0.0.1:$kport" gurl="http://127.0.0.1:$gport"

    # Keystone. Every keystone-manage step is idempotent, so old data is kept and reused.
    kconf="$ks/etc/keystone.conf"
    sed -e "s#@DATA@#$ks#g" -e "s#@EXPIRATION@#${KEYSTONE_TOKEN_EXPIRATION:-3600}#g" \
      "$here/openstack/keystone.conf.in" > "$kconf"
    echo '{}' > "$ks/etc/policy.yaml"
    km() { $py /usr/bin/keystone-manage --config-file "$kconf" "$@" >>"$ks/keystone-manage.log" 2>&1 \
             || fail "keystone-manage $1 failed; see $ks/keystone-manage.log and $ks/keystone.log"; }
    km db_sync
    # WAL: with the default rollback journal a lingering reader can make writes fail with
    # "database is locked" (HTTP 500). The mode is stored in the DB file.
    $py -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute("PRAGMA journal_mode=WAL")' "$ks/keystone.sqlite"
    # As root these two refuse to run without an owner for the key files.
    km fernet_setup --keystone-user "$(id -un)" --keystone-group "$(id -gn)"
    km credential_setup --keystone-user "$(id -un)" --keystone-group "$(id -gn)"
    # The password goes by environment, not argv, which any local user can read.
    OS_BOOTSTRAP_PASSWORD="$ADMIN_PASSWORD" km bootstrap --bootstrap-region-id RegionOne \
      --bootstrap-admin-url "$kurl/v3/" --bootstrap-internal-url "$kurl/v3/" --bootstrap-public-url "$kurl/v3/"
    # One worker: the in-process cache is per process, and there is no memcached here.
    OS_KEYSTONE_CONFIG_FILES="$kconf" setsid $py -m gunicorn --bind "127.0.0.1:$kport" --workers 1 \
      --timeout 60 --pythonpath "$here/openstack" --access-logfile "$ks/keystone-access.log" \
      --error-logfile - keystone_wsgi:application >"$ks/keystone.stdout" 2>&1 </dev/null &
    echo $! > "$ks/keystone.pid"
    wait_for "$kurl/v3" "$ks/keystone.pid" gunicorn "$ks/keystone.stdout" \
      || fail "Keystone did not start; see $ks/keystone.stdout and $ks/keystone.log"

    # Provision before Glance starts: its service user must exist when it validates tokens.
    ADMIN_PASSWORD="$ADMIN_PASSWORD" GLANCE_PASSWORD="$GLANCE_PASSWORD" IMAGEGRAPH_PASSWORD="$IMAGEGRAPH_PASSWORD" \
      $py "$here/openstack/provision.py" "$kurl/v3" "$gurl" "$json" "$kconf" || fail "provisioning failed"

    # Glance, keystone pipeline.
    gconf="$gl/etc/glance-api.conf"
    (umask 077; sed -e "s#@DATA@#$gl#g" -e "s#@PORT@#$gport#g" -e "s#@KEYSTONE@#$kurl#g" \
      -e "s#@GLANCE_PASSWORD@#$GLANCE_PASSWORD#g" "$here/openstack/glance-api.conf.in" > "$gconf")
    cp "$here/glance/glance-api-paste.ini" "$gl/etc/glance-api-paste.ini"
    echo '{}' > "$gl/etc/policy.yaml"
    $py -c 'import sys; from glance.cmd.manage import main; sys.argv[0]="glance-manage"; sys.exit(main())' \
      --config-file "$gconf" db_sync >"$gl/db_sync.log" 2>&1 || fail "glance db_sync failed; see $gl/db_sync.log"
    setsid $py -c 'import sys; from glance.cmd.api import main; sys.argv[0]="glance-api"; sys.exit(main())' \
      --config-file "$gconf" >"$gl/glance-api.stdout" 2>&1 </dev/null &
    echo $! > "$gl/glance-api.pid"
    wait_for "$gurl/healthcheck" "$gl/glance-api.pid" glance "$gl/glance-api.stdout" \
      || fail "Glance did not start; see $gl/glance-api.log and $gl/glance-api.stdout"

    echo "KEYSTONE_URL=$kurl/v3"
    echo "GLANCE_URL=$gurl"
    echo "OPENSTACK_JSON=$json"
    ;;

  stop)
    stop_all
    ;;

  *)
    echo "usage: $0 install | start DATA_DIR | stop DATA_DIR" >&2; exit 2 ;;
esac

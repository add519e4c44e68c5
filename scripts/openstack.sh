#!/usr/bin/env bash
# placeholder
set -euo pipefail
py=/usr/bin/python3
case "${1:-}" in
  install)
    if $py -c 'import glance, keystone, gunicorn' 2>/dev/null; then echo "OpenStack packages are installed"; exit 0; fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      python3-glance python3-keystone python3-gunicorn >/dev/null
    echo "OpenStack packages installed"
    ;;
esac

#!/usr/bin/env bash
# Runs a command under Node 24, installed once from the npm registry's `node` package (the binary is a
# registry package too) under .cache/node24: `scripts/node24.sh npm test`. better-sqlite3 13 is
# prebuilt for Node-API, so nothing is rebuilt; on Node 20 the project loads its 12 (see
# src/providers/local/sqlite.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .cache/node24/node_modules/.bin/node ]; then
  npm install --prefix .cache/node24 --no-audit --no-fund --silent node@24 >/dev/null
fi
export PATH="$PWD/.cache/node24/node_modules/.bin:$PATH"
echo "Node $(node --version)"
exec "$@"

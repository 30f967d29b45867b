#!/usr/bin/env bash
# Set up a development environment: a virtualenv in .venv with the product (and, with --dev,
# the test tools) installed, and the GraphiQL assets built. Safe to run again.
#
#   scripts/setup.sh          runtime only
#   scripts/setup.sh --dev    runtime plus test and lint tools
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
  echo "setup: Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11)." >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$python" -m venv .venv
fi

extras=""
if [ "${1:-}" = "--dev" ]; then
  extras="[dev]"
fi
echo "setup: installing media-gateway${extras} into .venv"
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".${extras}"

echo "setup: building the GraphiQL assets"
bash scripts/build-graphiql.sh

if [ "${1:-}" = "--dev" ]; then
  # the reference protocol clients the tests drive the gateway with (graphql-ws), and the
  # OpenID provider the social sign-in tests sign in at (oidc-provider)
  for clients in tests/e2e/protocol/node tests/e2e/browser/oidc; do
    lock_hash="$(sha256sum "$clients/package-lock.json" | cut -d' ' -f1)"
    stamp="$clients/node_modules/.media-gateway-lock.sha256"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_hash" ]; then
      echo "setup: installing the test's node packages in $clients (npm ci)"
      (cd "$clients" && npm ci --no-audit --no-fund --loglevel=error)
      echo "$lock_hash" > "$stamp"
    fi
  done
fi
echo "setup: done"

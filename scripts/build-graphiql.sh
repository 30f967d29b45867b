#!/usr/bin/env bash
# Build the GraphiQL assets (GraphiQL + explorer plugin, from npm) that the gateway serves at
# /graphiql/assets. Installs the pinned packages with `npm ci` and bundles them with esbuild into
# src/media_gateway/gateway/static/graphiql/.
#
# Idempotent: when the assets were already built from the same package.json, package-lock.json
# and sources, it does nothing. Pass --force to rebuild anyway.
#
# Needs Node.js >= 18 and npm; reaches the npm registry only when it has to install.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
frontend="$repo_root/frontend/graphiql"
out_dir="$repo_root/src/media_gateway/gateway/static/graphiql"
stamp="$out_dir/.build-stamp"

force=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -h|--help)
      sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0 ;;
    *) echo "build-graphiql: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "build-graphiql: Node.js and npm are needed to build the GraphiQL assets." >&2
  echo "build-graphiql: install Node.js 18 or newer, then run this script again." >&2
  exit 1
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 18 ]; then
  echo "build-graphiql: Node.js 18 or newer is needed (found $(node --version))." >&2
  exit 1
fi

# Fingerprint of everything the bundle is made from.
inputs_hash() {
  (
    cd "$frontend"
    find package.json package-lock.json build.mjs src -type f -print0 \
      | LC_ALL=C sort -z \
      | xargs -0 sha256sum
    node --version
  ) | sha256sum | cut -d' ' -f1
}

wanted="$(inputs_hash)"
if [ "$force" -eq 0 ] && [ -f "$stamp" ] && [ -f "$out_dir/graphiql.js" ] \
  && [ -f "$out_dir/graphiql.css" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
  echo "build-graphiql: assets are up to date ($out_dir)"
  exit 0
fi

cd "$frontend"
# npm ci wipes node_modules; skip it when the installed tree already matches the lock file.
installed_lock="node_modules/.media-gateway-lock.sha256"
lock_hash="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -f "$installed_lock" ] || [ "$(cat "$installed_lock")" != "$lock_hash" ]; then
  echo "build-graphiql: installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > "$installed_lock"
fi

echo "build-graphiql: bundling"
tmp_out="$(mktemp -d "${TMPDIR:-/tmp}/graphiql-build.XXXXXX")"
trap 'rm -rf "$tmp_out"' EXIT
node build.mjs "$tmp_out"
echo "$wanted" > "$tmp_out/.build-stamp"

mkdir -p "$(dirname "$out_dir")"
rm -rf "$out_dir"
mv "$tmp_out" "$out_dir"
chmod 755 "$out_dir"
trap - EXIT
echo "build-graphiql: assets written to $out_dir"

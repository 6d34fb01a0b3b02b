#!/usr/bin/env bash
# Builds the browser console into crates/rekam-console/dist (what rekamd serves):
# npm ci (exact versions from package-lock.json; npm's cache outside the repository, in
# $REKAM_NODE_CACHE, default /var/tmp/rekam-node), TypeScript generated from proto/ by
# buf + protoc-gen-es, a type check (tsc --noEmit), and the esbuild bundle.
# Skips the work when dist/ is newer than every source. npm comes from apt-get when
# missing (as root). tests/deps.sh --build runs this.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache="${REKAM_NODE_CACHE:-/var/tmp/rekam-node}"
cd "$here"

if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
    else
        echo "crates/rekam-console/build.sh: npm is missing; install it (sudo apt-get install npm)" >&2
        exit 1
    fi
fi

# Up to date: the bundle is newer than the sources, the protos and the lock file.
if [ -f dist/index.html ] && [ -d node_modules ] && [ "${1:-}" != "--force" ] &&
    [ -z "$(find web proto "$root/proto" package-lock.json build.mjs buf.gen.yaml tsconfig.json \
        -newer dist/index.html -not -path 'web/gen/*' -print -quit)" ]; then
    exit 0
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --cache "$cache/npm-cache" --prefer-offline --no-audit --no-fund --loglevel=error
fi
# buf keeps its own cache outside the repository too.
export BUF_CACHE_DIR="$cache/buf-cache"
npm run --silent generate
npm run --silent typecheck
npm run --silent bundle

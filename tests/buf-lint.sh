#!/usr/bin/env bash
# Lints proto/ with `buf lint` and the STANDARD rules; proto/buf.yaml lists the accepted
# exceptions. buf comes from the npm registry (@bufbuild/buf ships the binary) and is
# installed once, at a pinned version, into a cache outside the repository:
# $REKAM_NODE_CACHE, default /var/tmp/rekam-node. npm itself comes from apt-get when
# missing (as root). Extra arguments go to `buf lint` (e.g. --error-format=json).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version=1.75.0
cache="${REKAM_NODE_CACHE:-/var/tmp/rekam-node}"
buf="$cache/node_modules/.bin/buf"

if [ "$("$buf" --version 2>/dev/null || true)" != "$version" ]; then
    if ! command -v npm >/dev/null 2>&1; then
        if [ "$(id -u)" = 0 ]; then
            apt-get update -qq && apt-get install -y -qq npm >/dev/null
        else
            echo "tests/buf-lint.sh: npm is missing; install it (sudo apt-get install npm)" >&2
            exit 1
        fi
    fi
    echo "installing @bufbuild/buf@$version into $cache" >&2
    mkdir -p "$cache"
    npm install --prefix "$cache" --save-exact --no-audit --no-fund --loglevel=error \
        "@bufbuild/buf@$version" >&2
fi

cd "$root/proto"
"$buf" lint "$@"
echo "buf lint: proto/ passes the STANDARD rules (exceptions in proto/buf.yaml)"

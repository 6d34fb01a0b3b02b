#!/usr/bin/env bash
# Runs every rekam test on a fresh machine: installs what the tests need, builds the
# workspace, runs the Rust unit and end-to-end tests, lints proto/ with buf (installed from
# npm by tests/buf-lint.sh), then starts a real rekamd process on simulated devices and
# runs the Python (grpcio) client test against it; last, the browser console's end-to-end
# test (crates/rekam-console/tests/e2e.mjs: its own rekamd on simulators, Debian's headless
# Chromium driven by playwright-core), with its screenshots in $target/console-e2e.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"

# What the build and the tests need from Debian (libpcsclite-dev, python3-venv,
# nats-server, pcscd with vsmartcard-vpcd, chromium, npm), installed when missing; and the
# browser console's bundle with its npm packages (playwright-core among them).
tests/deps.sh

echo "== cargo test (workspace)"
cargo build --workspace --bins --quiet
echo "== the Debian package of those binaries (tests/deb.rs installs it)"
command -v cargo-deb >/dev/null 2>&1 || cargo install cargo-deb --locked --quiet
cargo deb -p rekamd --no-build --profile dev --no-strip --fast --quiet -o "$target/debian/"
cargo test --workspace --quiet

echo "== buf lint"
tests/buf-lint.sh

echo "== python client against a live rekamd"
work=$(mktemp -d)
sock="$work/rekamd.sock"
# Device timings at 5 % of real: fast, yet a print lasts long enough (about 1.2 s) for the
# client test to disconnect in the middle of it.
metrics_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$target/debug/rekamd" --socket "$sock" --listen "" --time-scale 0.05 --state-dir "$work/state" \
    --metrics "127.0.0.1:$metrics_port" >"$work/rekamd.log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 1 100); do [ -S "$sock" ] && break; sleep 0.1; done
if [ ! -S "$sock" ]; then cat "$work/rekamd.log" >&2; echo "rekamd did not start" >&2; exit 1; fi
REKAM_SOCKET="$sock" REKAM_METRICS="http://127.0.0.1:$metrics_port" tests/python/run.sh
kill -TERM "$pid"
wait "$pid"
echo "rekamd stopped cleanly on SIGTERM"

echo "== browser console in headless Chromium (playwright-core) against a live rekamd"
rm -rf "$target/console-e2e"
node crates/rekam-console/tests/e2e.mjs --rekamd "$target/debug/rekamd" \
    --rekamctl "$target/debug/rekamctl" --out "$target/console-e2e"

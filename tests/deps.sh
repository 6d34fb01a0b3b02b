#!/usr/bin/env bash
# Installs the Debian packages rekam needs, when missing (apt-get; sudo when not root).
#   tests/deps.sh --build   what building and running need: libpcsclite-dev (the PC/SC
#                           encoder driver links libpcsclite), pkg-config,
#                           fonts-liberation2 (the card renderer's fonts) and
#                           opencv-data (the face checks' Haar cascades), npm (the
#                           browser console's build); then builds the browser console
#                           (crates/rekam-console/build.sh: npm ci, code generated from
#                           proto/, type check, esbuild bundle into its dist/)
#   tests/deps.sh           that, and what the tests need: python3-venv (the grpcio client
#                           test), nats-server (the outbox), pcscd + vsmartcard-vpcd (a
#                           private pcscd with virtual readers for the chip encoder tests),
#                           openssl (an independent check of the chip's security object),
#                           cups-ipp-utils + avahi-daemon + dbus (ippeveprinter, the IPP
#                           printer the IPP driver's tests print to), python3-cryptography
#                           (rekam-sbi's independent SBI device service), chromium (the
#                           console's end-to-end test drives it headless)
set -euo pipefail
need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in pkg-config libpcsclite-dev fonts-liberation2 opencv-data; do have_pkg "$p" || need+=("$p"); done
# npm (with Node.js) builds the browser console; a Node.js from elsewhere with its npm is fine
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ "${1:-}" != "--build" ]; then
    python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
    command -v nats-server >/dev/null 2>&1 || need+=(nats-server)
    for p in pcscd vsmartcard-vpcd; do have_pkg "$p" || need+=("$p"); done
    # ippeveprinter (the IPP card printer driver's tests) and the DNS-SD it needs to start
    for p in cups-ipp-utils avahi-daemon dbus; do have_pkg "$p" || need+=("$p"); done
    # systemd-socket-activate (socket activation in tests/systemd.rs) and systemd-analyze
    # (the unit files)
    command -v systemd-socket-activate >/dev/null 2>&1 || need+=(systemd)
    # openssl checks rekam-chip's security objects and certificates independently
    command -v openssl >/dev/null 2>&1 || need+=(openssl)
    # rekam-face's tests: the public-domain astronaut photograph of scikit-image
    # (python3-skimage)
    for p in python3-skimage; do have_pkg "$p" || need+=("$p"); done
    # rekam-sbi's tests: the independent SBI device service (crates/rekam-sbi/tests/sbi_sim.py)
    # signs with python3-cryptography; openssl (above) makes the RSA device keys
    for p in python3-cryptography; do have_pkg "$p" || need+=("$p"); done
    # the browser console's end-to-end test (crates/rekam-console/tests/e2e.mjs): Debian's
    # Chromium, driven headless by playwright-core
    [ -x /usr/bin/chromium ] || need+=(chromium)
fi
if [ ${#need[@]} -gt 0 ]; then
    echo "tests/deps.sh: installing ${need[*]}" >&2
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# The browser console rekamd serves (nothing to do when its bundle is up to date).
"$(dirname "$0")/../crates/rekam-console/build.sh"

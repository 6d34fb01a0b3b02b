#!/usr/bin/env bash
# Runs the Python client test against a running rekamd.
#
#   REKAM_SOCKET=/path/to/rekamd.sock tests/python/run.sh   (or unix:/path, or host:port)
#   REKAM_ADDR=127.0.0.1:50051 tests/python/run.sh
#
# Creates (or reuses) a venv in ${REKAM_PY_VENV:-/tmp/rekam-py-venv}, installs
# requirements.txt, generates the stubs from ../../proto into a temporary directory and runs
# test_client.py. Exit status: the test's (non-zero when a test failed).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
proto="$(cd "$here/../../proto" && pwd)"
venv="${REKAM_PY_VENV:-/tmp/rekam-py-venv}"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
# Install only when the requirements changed since the last install into this venv.
stamp="$venv/.rekam-requirements"
if ! cmp -s "$here/requirements.txt" "$stamp" 2>/dev/null; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
    cp "$here/requirements.txt" "$stamp"
fi

stubs="$(mktemp -d "${TMPDIR:-/tmp}/rekam-py-stubs.XXXXXX")"
trap 'rm -rf "$stubs"' EXIT
(
    cd "$proto"
    "$venv/bin/python" -m grpc_tools.protoc -I . \
        --python_out="$stubs" --grpc_python_out="$stubs" rekam/v1/*.proto
)

PYTHONPATH="$stubs${PYTHONPATH:+:$PYTHONPATH}" "$venv/bin/python" "$here/test_client.py" "$@"

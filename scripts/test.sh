#!/usr/bin/env bash
# Every test of the platform: unit, contract, handler (events/ samples) and end-to-end tests,
# the AWS adapters against moto server, the whole end-to-end suite again on the AWS path, and
# cfn-lint on template.yaml. Run from anywhere. Installs its Python tools into .venv/ (see
# scripts/tools.sh) and starts moto on a free loopback port, stopping it when done.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is not installed: install Rust with rustup (https://rustup.rs) and run again" >&2
  exit 1
fi
source scripts/tools.sh
ctp_tools

# Quiet, deterministic AWS SDK behaviour in every test process (no metadata probing).
export AWS_EC2_METADATA_DISABLED=true

echo "== cfn-lint template.yaml"
cfn-lint template.yaml

echo "== starting moto server"
MOTO_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
MOTO_LOG="$(mktemp -t ctp-moto.XXXXXX)"
moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$MOTO_LOG" 2>&1 &
MOTO_PID=$!
trap 'kill "$MOTO_PID" 2>/dev/null || true; wait "$MOTO_PID" 2>/dev/null || true; rm -f "$MOTO_LOG"' EXIT
for _ in $(seq 1 100); do
  if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$MOTO_PORT/moto-api/')" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$MOTO_PID" 2>/dev/null; then
    echo "moto server exited at start; its log:" >&2
    cat "$MOTO_LOG" >&2
    exit 1
  fi
  sleep 0.2
done
if ! python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$MOTO_PORT/moto-api/')" 2>/dev/null; then
  echo "moto server did not answer on 127.0.0.1:$MOTO_PORT within 20 s; its log:" >&2
  cat "$MOTO_LOG" >&2
  exit 1
fi
export CTP_TEST_AWS_ENDPOINT="http://127.0.0.1:$MOTO_PORT"
echo "moto server on $CTP_TEST_AWS_ENDPOINT"

echo "== build"
cargo build --workspace --all-targets --locked
echo "== tests (end-to-end on the embedded store; AWS adapters on moto)"
cargo test --workspace --locked
echo "== end-to-end suite on the AWS adapters (moto)"
CTP_E2E_AWS_ENDPOINT="$CTP_TEST_AWS_ENDPOINT" cargo test --locked --test platform

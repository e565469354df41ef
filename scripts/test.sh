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
ctp_tools test

# Quiet, deterministic AWS SDK behaviour in every test process (no metadata probing).
export AWS_EC2_METADATA_DISABLED=true

echo "== cfn-lint template.yaml"
cfn-lint template.yaml

echo "== starting moto server"
ctp_start_moto
export CTP_TEST_AWS_ENDPOINT="$CTP_MOTO_URL"

echo "== build"
cargo build --workspace --all-targets --locked
echo "== tests (end-to-end on the embedded store; AWS adapters on moto)"
cargo test --workspace --locked
echo "== end-to-end suite on the AWS adapters (moto)"
CTP_E2E_AWS_ENDPOINT="$CTP_TEST_AWS_ENDPOINT" cargo test --locked --test platform

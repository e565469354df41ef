#!/usr/bin/env bash
# Every test of the platform: unit, contract, handler (events/ samples) and end-to-end tests
# against `ctp serve`. Run from anywhere; installs nothing beyond the Rust toolchain for now.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is not installed: install Rust with rustup (https://rustup.rs) and run again" >&2
  exit 1
fi

# Quiet, deterministic AWS SDK behaviour in every test process (no metadata probing).
export AWS_EC2_METADATA_DISABLED=true

cargo build --workspace --all-targets --locked
cargo test --workspace --locked

#!/usr/bin/env bash
# Cold-start figures for every Lambda function: builds the release binaries and the harness
# (examples/coldstart.rs), then starts each binary against a Lambda Runtime API emulator on
# loopback and prints init (exec → first GET /next) and first-response times, the binary sizes
# and target/lambda/<name>/bootstrap.zip sizes. Record the figures in docs/performance.md.
#
#   scripts/coldstart.sh                                # 10 runs per function
#   scripts/coldstart.sh --runs 5 --functions health,auth --max-init-ms 20
#
# Exits non-zero on an init or invocation error, a median init over --max-init-ms (default 20)
# or a bootstrap.zip over 8 MiB (CTP_MAX_ZIP_BYTES, as in scripts/package.sh). The zips are what
# scripts/package.sh last built (arm64); without them the zip column says n/a. The timed binaries
# are host release builds.
#
# The caller's environment reaches the functions unchanged: with CTP_DATA_DIR or CTP_TABLE (and
# the AWS settings) given, that storage is used; otherwise a throwaway CTP_DATA_DIR (embedded
# store) is created and removed afterwards.
#
#   scripts/coldstart.sh --aws [harness flags]
#
# runs the functions on their AWS adapters instead: it starts moto server on a free loopback
# port, creates the table, bucket and keys there (`ctp admin aws-env`) and hands the functions
# that environment, so the first responses include real SDK calls (KMS GetPublicKey, DynamoDB).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is not installed: install Rust with rustup (https://rustup.rs) and run again" >&2
  exit 1
fi

# Every function crate under functions/, by its [package] name.
packages=()
for manifest in functions/*/Cargo.toml; do
  packages+=(-p "$(sed -n '/^\[package\]/,/^\[/{s/^name[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p}' "$manifest" | head -n 1)")
done
cargo build --release --locked "${packages[@]}"
cargo build --release --locked --example coldstart

if [[ "${1:-}" == "--aws" ]]; then
  shift
  source scripts/tools.sh
  ctp_tools test
  ctp_start_moto
  cargo build --release --locked --bin ctp
  export AWS_EC2_METADATA_DISABLED=true
  while IFS='=' read -r key value; do
    export "$key=$value"
  done < <("${CARGO_TARGET_DIR:-target}/release/ctp" admin aws-env --aws-endpoint "$CTP_MOTO_URL" --aws-prefix coldstart)
  echo "functions run on the AWS adapters against $CTP_MOTO_URL (table $CTP_TABLE)" >&2
fi

if [[ -z "${CTP_DATA_DIR:-}" && -z "${CTP_TABLE:-}" ]]; then
  CTP_DATA_DIR="$(mktemp -d -t ctp-coldstart.XXXXXX)"
  export CTP_DATA_DIR
  trap 'rm -rf "$CTP_DATA_DIR"' EXIT
fi

"${CARGO_TARGET_DIR:-target}/release/examples/coldstart" "$@"

#!/usr/bin/env bash
# Run the whole platform locally on embedded storage, with demo tenants and logins.
# Extra arguments go to `ctp serve` (e.g. --listen 127.0.0.1:9090 --data-dir /tmp/ctp).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is not installed: install Rust with rustup (https://rustup.rs) and run again" >&2
  exit 1
fi
exec cargo run --release --locked --bin ctp -- serve --demo "$@"

#!/usr/bin/env bash
# Build every Lambda function under functions/ for provided.al2023 on arm64 (Graviton) with
# Cargo Lambda, one bootstrap.zip per function in target/lambda/<function>/, and check the sizes.
#
#   scripts/package.sh              # all functions
#   scripts/package.sh auth health  # only these (names of directories under functions/)
#
# Only the function packages are built, never the root `ctp` crate (the local gateway and admin
# command). Cross-compilation uses zig (installed into .venv by scripts/tools.sh); the Rust target
# aarch64-unknown-linux-gnu is added with rustup when it is missing.
#
# Fails when a zip is missing or larger than CTP_MAX_ZIP_BYTES (default 8 MB, 8,000,000 bytes): the functions are
# meant to stay small, since zip size and binary size drive cold start.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/tools.sh
source scripts/tools.sh
ctp_tools build

MAX_ZIP_BYTES="${CTP_MAX_ZIP_BYTES:-8000000}"
TARGET_TRIPLE=aarch64-unknown-linux-gnu

# The package name of each function crate, read from its Cargo.toml ([package] name = "...").
package_name() {
  sed -n '/^\[package\]/,/^\[/{s/^name[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p}' "$1/Cargo.toml" | head -n 1
}

# The binary the package produces: its [[bin]] name, else the package name.
binary_name() {
  local bin
  bin="$(sed -n '/^\[\[bin\]\]/,/^\[/{s/^name[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p}' "$1/Cargo.toml" | head -n 1)"
  echo "${bin:-$(package_name "$1")}"
}

dirs=()
if [ "$#" -gt 0 ]; then
  for name in "$@"; do
    [ -f "functions/$name/Cargo.toml" ] || { echo "no function crate functions/$name" >&2; exit 2; }
    dirs+=("functions/$name")
  done
else
  for d in functions/*/; do
    [ -f "$d/Cargo.toml" ] && dirs+=("${d%/}")
  done
fi
[ "${#dirs[@]}" -gt 0 ] || { echo "no function crates under functions/" >&2; exit 2; }

package_args=()
binaries=()
for d in "${dirs[@]}"; do
  pkg="$(package_name "$d")"
  [ -n "$pkg" ] || { echo "$d/Cargo.toml has no [package] name" >&2; exit 2; }
  package_args+=(--package "$pkg")
  binaries+=("$(binary_name "$d")")
done

if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -qx "$TARGET_TRIPLE"; then
  rustup target add "$TARGET_TRIPLE"
fi

echo "building ${binaries[*]} for $TARGET_TRIPLE (release)" >&2
start=$SECONDS
# One cargo invocation for all packages, so shared dependencies compile once.
cargo lambda build --release --arm64 --output-format zip "${package_args[@]}"
echo "built in $((SECONDS - start)) s" >&2

status=0
printf '%-20s %12s  %s\n' function bytes zip
for bin in "${binaries[@]}"; do
  zip="target/lambda/$bin/bootstrap.zip"
  if [ ! -f "$zip" ]; then
    printf '%-20s %12s  %s\n' "$bin" missing "$zip"
    status=1
    continue
  fi
  size="$(wc -c <"$zip" | tr -d '[:space:]')"
  note=""
  if [ "$size" -gt "$MAX_ZIP_BYTES" ]; then
    note="  TOO LARGE (limit $MAX_ZIP_BYTES bytes)"
    status=1
  fi
  printf '%-20s %12s  %s%s\n' "$bin" "$size" "$zip" "$note"
done
exit "$status"

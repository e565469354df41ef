#!/usr/bin/env bash
# The project's Python-distributed tools, pinned, in a venv inside the repository (.venv/):
# moto server (the AWS emulator the adapters are tested against), cfn-lint (template checks),
# cargo-lambda and ziglang (arm64 Lambda builds). Sourced by the other scripts; idempotent.
# After sourcing, the venv's bin/ is first on PATH.

CTP_VENV="${CTP_VENV:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.venv}"
CTP_PY_REQUIREMENTS=(
  "moto[server]==5.2.6"
  "cfn-lint==1.58.0"
  "cargo-lambda==1.9.2"
  "ziglang==0.17.1"
)

ctp_tools() {
  local stamp="$CTP_VENV/.requirements"
  local wanted
  wanted="$(printf '%s\n' "${CTP_PY_REQUIREMENTS[@]}")"
  if [ ! -x "$CTP_VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    if ! command -v python3 >/dev/null 2>&1; then
      echo "python3 is not installed: install Python 3.9 or newer (with venv and pip) and run again" >&2
      return 1
    fi
    echo "setting up Python tools in $CTP_VENV" >&2
    python3 -m venv "$CTP_VENV" || {
      echo "could not create a venv: install Python's venv module (Debian: apt-get install python3-venv)" >&2
      return 1
    }
    "$CTP_VENV/bin/pip" install --quiet --disable-pip-version-check "${CTP_PY_REQUIREMENTS[@]}" || {
      echo "pip could not install ${CTP_PY_REQUIREMENTS[*]}: check network access to PyPI" >&2
      return 1
    }
    printf '%s' "$wanted" >"$stamp"
  fi
  export PATH="$CTP_VENV/bin:$PATH"
}

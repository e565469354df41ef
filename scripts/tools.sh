#!/usr/bin/env bash
# The project's Python-distributed tools, pinned, in a venv inside the repository (.venv/).
# Sourced by the other scripts; idempotent. Two groups, so the test run does not download the
# build tools:
#   ctp_tools test    moto server (the AWS emulator the adapters are tested against), cfn-lint
#   ctp_tools build   cargo-lambda and ziglang (arm64 Lambda builds)
# After it, the venv's bin/ is first on PATH.

CTP_VENV="${CTP_VENV:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.venv}"
CTP_TOOLS_test=("moto[server]==5.2.6" "cfn-lint==1.58.0")
CTP_TOOLS_build=("cargo-lambda==1.9.2" "ziglang==0.17.1")

ctp_tools() {
  local group="${1:-test}" wanted stamp
  local -n requirements="CTP_TOOLS_$group"
  wanted="$(printf '%s\n' "${requirements[@]}")"
  stamp="$CTP_VENV/.requirements-$group"
  if [ ! -x "$CTP_VENV/bin/python" ]; then
    if ! command -v python3 >/dev/null 2>&1; then
      echo "python3 is not installed: install Python 3.9 or newer (with venv and pip) and run again" >&2
      return 1
    fi
    python3 -m venv "$CTP_VENV" || {
      echo "could not create a venv: install Python's venv module (Debian: apt-get install python3-venv)" >&2
      return 1
    }
  fi
  if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    echo "installing ${requirements[*]} into $CTP_VENV" >&2
    "$CTP_VENV/bin/pip" install --quiet --disable-pip-version-check "${requirements[@]}" || {
      echo "pip could not install ${requirements[*]}: check network access to PyPI" >&2
      return 1
    }
    printf '%s' "$wanted" >"$stamp"
  fi
  export PATH="$CTP_VENV/bin:$PATH"
}

# Start moto server on a free loopback port for the rest of the calling script; sets
# CTP_MOTO_URL and stops the server when the script exits. Fails loudly when it cannot start.
ctp_start_moto() {
  local port log pid
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  log="$(mktemp -t ctp-moto.XXXXXX)"
  moto_server -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
  pid=$!
  # shellcheck disable=SC2064 # expand now: these values are this server's
  trap "kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -f '$log'" EXIT
  for _ in $(seq 1 100); do
    if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/')" 2>/dev/null; then
      CTP_MOTO_URL="http://127.0.0.1:$port"
      export CTP_MOTO_URL
      echo "moto server on $CTP_MOTO_URL" >&2
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "moto server exited at start; its log:" >&2
      cat "$log" >&2
      return 1
    fi
    sleep 0.2
  done
  echo "moto server did not answer on 127.0.0.1:$port within 20 s; its log:" >&2
  cat "$log" >&2
  return 1
}

#!/usr/bin/env bash
# Installs what Titan needs on Debian/Ubuntu, builds build/bin/titan, and makes .venv with the
# Python SDK. Safe to run again: it only installs what is missing.
#   TITAN_BUILD_TYPE  (default Release)   TITAN_SKIP_APT=1 to skip the package step
#   TITAN_TEST_TOOLS=1 also installs what the dashboard's tests need (chromium, Selenium; Prometheus and
#                      promtool for the metrics tests of docs/observability.md) and PostgreSQL (the tests
#                      of the broker's journal on PostgreSQL start servers of their own with its binaries)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake ninja-build pkg-config git patch libzmq3-dev cppzmq-dev libmsgpack-cxx-dev
          libsodium-dev libyaml-cpp-dev libspdlog-dev libgtest-dev libsqlite3-dev libcli11-dev libssl-dev libarchive-dev
          zlib1g-dev libjemalloc-dev libedit-dev nlohmann-json3-dev libpq-dev python3 python3-venv python3-yaml)
[ "${TITAN_TEST_TOOLS:-0}" = 1 ] && packages+=(chromium chromium-driver postgresql)
if [ "${TITAN_SKIP_APT:-0}" != 1 ]; then
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "titan install: installing ${missing[*]}"
    sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  if [ "${TITAN_TEST_TOOLS:-0}" = 1 ] && ! dpkg-query -W -f='${Status}' prometheus 2>/dev/null | grep -q "install ok installed"; then
    echo "titan install: installing prometheus (promtool and a server for the metrics tests)"
    sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null
    # The tests run their own Prometheus; the one the package starts would hold port 9090, Titan's default.
    if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
      $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true
    fi
  fi
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e sdk/python pytest pyyaml
# The dashboard (`titan dashboard`, served by `titan up`): its pinned dependencies, then the app itself.
.venv/bin/python -m pip install -q -r dashboard/requirements.txt -e dashboard
# The MCP server (`titan mcp`, docs/mcp.md): the same way.
.venv/bin/python -m pip install -q -r mcp_server/requirements.txt -e mcp_server
if [ "${TITAN_TEST_TOOLS:-0}" = 1 ]; then
  .venv/bin/python -m pip install -q -r dashboard/requirements-test.txt
fi

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="${TITAN_BUILD_TYPE:-Release}" >/dev/null
cmake --build build -j"$(nproc)"
echo "titan install: built build/bin/titan; Python SDK in .venv (source .venv/bin/activate)"

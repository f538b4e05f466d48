#!/usr/bin/env bash
# Installs, builds and runs every Titan test: C++ unit and integration tests (ctest), the Python
# SDK suite (pytest) against real titan processes, the dashboard's API and browser tests (headless
# Chromium), the MCP server's tests, and the C++ tests again under ASan+UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
TITAN_TEST_TOOLS=1 cli/install.sh

echo "== C++ tests (release build)"
ctest --test-dir build --output-on-failure -j2 --timeout 300

echo "== Python SDK tests"
TITAN_BIN="$PWD/build/bin/titan" .venv/bin/python -m pytest tests/python -q -p no:cacheprovider

echo "== Chaos and protocol fuzzing (tests/chaos; bounded: TITAN_CHAOS_MINUTES makes the chaos run longer)"
TITAN_BIN="$PWD/build/bin/titan" .venv/bin/python -m pytest tests/chaos -q -rP -p no:cacheprovider  # -rP: the tables

echo "== Dashboard tests (API handlers; pages in headless Chromium against a real cluster)"
TITAN_BIN="$PWD/build/bin/titan" .venv/bin/python -m pytest dashboard/tests -q -p no:cacheprovider

echo "== MCP server tests (titan mcp over stdio and HTTP, driven by the MCP SDK's client, against a real cluster)"
TITAN_BIN="$PWD/build/bin/titan" .venv/bin/python -m pytest mcp_server/tests -q -p no:cacheprovider

echo "== The README demo (titan up + a map-reduce DAG through the SDK)"
demo_dir=$(mktemp -d)
TITAN_PORT=29090 TITAN_DIR="$demo_dir" cli/demo.sh > "$demo_dir/demo.out" 2>&1 || { cat "$demo_dir/demo.out"; exit 1; }
grep -q "^verified" "$demo_dir/demo.out" || { cat "$demo_dir/demo.out"; exit 1; }
echo "demo verified"

echo "== C++ tests under AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DTITAN_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$(nproc)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j2 --timeout 600

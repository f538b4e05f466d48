#!/usr/bin/env bash
# Runs Titan on this machine (store, broker, 2 workers; data in titan-data/), submits a map-reduce
# DAG through the Python SDK, prints its results and the cluster's stats, then stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${TITAN_PORT:-9090}"
DIR="${TITAN_DIR:-titan-data}"
mkdir -p "$DIR"
# Jobs are Python scripts that use the SDK: run them with the interpreter it is installed in.
export TITAN_PYTHON="$PWD/.venv/bin/python"
build/bin/titan up --dir "$DIR" --port "$PORT" --workers 2 > "$DIR/up.out" 2>&1 &
UP=$!
trap 'kill -INT $UP 2>/dev/null; wait $UP 2>/dev/null || true' EXIT
# Wait (up to 30 s) for `titan up` to say the cluster is ready.
for _ in $(seq 300); do
  grep -q "Titan is up" "$DIR/up.out" && break
  kill -0 $UP 2>/dev/null || { cat "$DIR/up.out"; exit 1; }
  sleep 0.1
done
grep -q "Titan is up" "$DIR/up.out" || { echo "titan up did not start; see $DIR/logs"; exit 1; }
sed -n '1,5p' "$DIR/up.out"
echo
TITAN_PORT="$PORT" .venv/bin/python cli/demo/run_demo.py
echo
build/bin/titan --port "$PORT" stats

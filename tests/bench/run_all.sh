#!/usr/bin/env bash
# Builds the Titan benchmarks, installs and starts what the references need (Redis), runs every
# benchmark, and prints one table with each Titan number beside its reference from THIS run.
# Benchmarks report ratios, never pass/fail: the exit code only says whether everything ran.
#
#   tests/bench/run_all.sh                               # everything (~7 minutes)
#   BENCH_SECONDS=1 BENCH_REPS=1 tests/bench/run_all.sh  # a quick look
#   SECTIONS=artifacts tests/bench/run_all.sh            # only the artifact transfers (~2 minutes)
# Env: BUILD_DIR (default build), SECTIONS (any of "store jobs artifacts", default all three),
# BENCH_SECONDS (per store run, default 2), BENCH_REPS (store rounds, default 3), JOBS_SECONDS (per
# jobs stream, default 3), BENCH_OUT (logs; default $BUILD_DIR/bench/results), STORE_ARGS / JOBS_ARGS /
# ARTIFACT_ARGS (extra flags for store_bench / jobs_bench / artifact_bench, e.g. "--reps 1").
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD_DIR=${BUILD_DIR:-build}
SECS=${BENCH_SECONDS:-2}
REPS=${BENCH_REPS:-3}
JOBS_SECS=${JOBS_SECONDS:-3}
SECTIONS=${SECTIONS:-store jobs artifacts}
has() { case " $SECTIONS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
case $BUILD_DIR in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
OUT=${BENCH_OUT:-$BUILD_DIR/bench/results}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"
LOG="$OUT/run-$STAMP.log"
TABLE="$OUT/table-$STAMP.md"

echo "== build: titan, store_bench, jobs_bench, artifact_bench ($BUILD_DIR)"
[ -f "$BUILD_DIR/build.ninja" ] || cmake -S . -B "$BUILD_DIR" -G Ninja >/dev/null
cmake --build "$BUILD_DIR" -j2 --target titan store_bench jobs_bench artifact_bench
export TITAN_BIN="$BUILD_DIR/bin/titan"
BENCH="$BUILD_DIR/bench"

if has store; then
  echo "== references: redis-server and redis-benchmark"
  if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server redis-tools >/dev/null
  fi
  redis-server --version | head -1
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/titan-bench-redis-XXXXXX")
REDIS_PID=""
cleanup() {
  if [ -n "$REDIS_PID" ]; then kill "$REDIS_PID" 2>/dev/null || true; wait "$REDIS_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# start_redis MODE: plain (no persistence) or durable (AOF, fsync before every reply batch).
start_redis() {
  local mode=$1 port
  port=$(free_port)
  rm -rf "$WORK/$mode"; mkdir -p "$WORK/$mode"
  local persist=(--save '' --appendonly no)
  [ "$mode" = durable ] && persist=(--save '' --appendonly yes --appendfsync always)
  redis-server --bind 127.0.0.1 --port "$port" --dir "$WORK/$mode" --daemonize no --logfile "$WORK/$mode/redis.log" \
    "${persist[@]}" &
  REDIS_PID=$!
  for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
  REDIS_PORT=$port
}

stop_redis() {
  redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || kill "$REDIS_PID" 2>/dev/null || true
  wait "$REDIS_PID" 2>/dev/null || true
  REDIS_PID=""
}

# rps TEST CLIENTS PIPELINE N: requests per second of one redis-benchmark run (-r 10000 -d 16, as store_bench).
rps() {
  redis-benchmark -h 127.0.0.1 -p "$REDIS_PORT" -t "$1" -c "$2" -P "$3" -n "$4" -r 10000 -d 16 --csv 2>/dev/null |
    awk -F'","' 'NR == 2 { print $2 }'
}

# TitanStore and Redis, interleaved: for each mode, op and clients x in-flight config, REPS rounds of
# one store_bench run then one redis-benchmark run, so both see the same machine (it is shared, and
# its fsync latency swings by 10x). Same op mix, keyspace, value size, client counts and windows;
# Redis's -n is sized from a calibration run to take about $SECS seconds.
run_store() {
  local mode
  for mode in durable plain; do
    start_redis "$mode"
    local titan_mode=nosync; [ "$mode" = durable ] && titan_mode=durable
    for test in set get sadd; do
      local op=$test; [ "$test" = set ] && op=put
      # GET finds every key and SADD every member, in both systems (store_bench fills its own).
      [ "$test" = get ] && rps set 10 100 100000 >/dev/null
      [ "$test" = sadd ] && rps sadd 10 100 100000 >/dev/null
      for config in 1x1 50x1 50x16; do
        local c=${config%x*} p=${config#*x} cal=20000
        if [ "$mode" = durable ] && [ "$test" = set ]; then cal=3000; [ "$config" = 1x1 ] && cal=300; fi
        local r0 n r rep
        r0=$(rps "$test" "$c" "$p" "$cal")
        n=$(python3 -c "print(max($cal, int(float('${r0:-0}') * $SECS)))")
        for rep in $(seq 1 "$REPS"); do
          "$BENCH/store_bench" --modes "$titan_mode" --ops "$op" --configs "$config" --seconds "$SECS" ${STORE_ARGS:-} |
            grep '^RESULT' | sed "s/\$/ rep=$rep/"
          r=$(rps "$test" "$c" "$p" "$n")
          echo "RESULT store_bench system=redis mode=$titan_mode op=$op clients=$c window=$p n=$n ops_per_s=${r:-0} rep=$rep"
        done
      done
    done
    stop_redis
  done
}

{
  echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
  if has store; then
    echo "== store_bench (Titan) and redis-benchmark (reference), interleaved, $REPS rounds of ~${SECS}s runs"
    run_store
  fi
  if has jobs; then
    echo "== jobs_bench (~${JOBS_SECS}s per measured stream)"
    "$BENCH/jobs_bench" --seconds "$JOBS_SECS" ${JOBS_ARGS:-}
  fi
  if has artifacts; then
    echo "== artifact_bench (titan upload / artifacts get vs a raw loopback TCP copy, 256 MiB and 1 GiB)"
    "$BENCH/artifact_bench" ${ARTIFACT_ARGS:-}
  fi
  echo "== done: load $(cut -d' ' -f1-3 /proc/loadavg)"
} 2>&1 | tee "$LOG"

python3 "$ROOT/tests/bench/report.py" "$LOG" | tee "$TABLE"
echo "log: $LOG"
echo "table: $TABLE"

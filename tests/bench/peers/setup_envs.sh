#!/usr/bin/env bash
# Makes the peers' virtualenvs for tests/bench/peer_bench.py under DIR: DIR/celery (Celery + Redis client),
# DIR/ray, DIR/dask (Dask distributed), each with Debian's python3, and installs redis-server (apt) for
# Celery's broker. Not part of CI: the peers are references, measured on demand.
#   tests/bench/peers/setup_envs.sh DIR
set -euo pipefail
DIR=${1:?usage: setup_envs.sh DIR (where the celery/, ray/ and dask/ virtualenvs go)}
mkdir -p "$DIR"
PY=/usr/bin/python3
declare -A PKGS=([celery]="celery[redis]" [ray]="ray" [dask]="dask[distributed]")
for name in celery ray dask; do
  [ -x "$DIR/$name/bin/python" ] || "$PY" -m venv "$DIR/$name"
  "$DIR/$name/bin/pip" install -q ${PKGS[$name]}
done
if ! command -v redis-server >/dev/null; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
fi
echo "peer venvs ready in $DIR: pass --peers $DIR to tests/bench/peer_bench.py"

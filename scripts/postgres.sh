#!/usr/bin/env bash
# A private, throw-away PostgreSQL cluster on 127.0.0.1 for the storage tests and benchmarks.
#
#   eval "$(scripts/postgres.sh start)"   prints `export QSAFE_TEST_POSTGRES_URL=... QSAFE_PG_DIR=...`
#   scripts/postgres.sh stop DIR          stops the cluster in DIR and removes DIR
#
# Uses Debian's PostgreSQL server binaries (package `postgresql`, installed with apt-get when
# missing and run as root). The cluster lives in a fresh temporary directory, listens on a free
# loopback port and on a Unix socket in that directory, trusts local connections and is owned by
# the `postgres` user when run as root (the server refuses to run as root). `--fast` turns off
# fsync for test runs; benchmarks start it without.
set -euo pipefail

find_bin() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    if [[ -x $dir/pg_ctl && -x $dir/initdb ]]; then
      echo "$dir"
    fi
  done | sort -V | tail -1
}

install_server() {
  if [[ $(id -u) -ne 0 ]]; then
    echo "postgres.sh: PostgreSQL server binaries not found; install Debian's postgresql package" >&2
    exit 1
  fi
  echo "postgres.sh: installing Debian's postgresql package" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql >&2 \
    || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql >&2; }
}

# Runs a command as the cluster's owner.
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

start() {
  local fast=0
  [[ ${1:-} == --fast ]] && fast=1
  local bin
  bin=$(find_bin)
  if [[ -z $bin ]]; then
    install_server
    bin=$(find_bin)
  fi
  local dir port
  dir=$(mktemp -d "${TMPDIR:-/tmp}/qsafe-pg.XXXXXX")
  [[ $(id -u) -eq 0 ]] && chown postgres: "$dir" && chmod 700 "$dir"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  as_owner "$bin/initdb" -D "$dir/data" -U qsafe --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  local opts="-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=200"
  if ((fast)); then
    opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  fi
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -o "$opts" -w -t 60 start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
  echo "export QSAFE_TEST_POSTGRES_URL=postgres://qsafe@127.0.0.1:$port/postgres QSAFE_PG_DIR=$dir"
}

stop() {
  local dir=${1:?usage: postgres.sh stop DIR}
  local bin
  bin=$(find_bin)
  if [[ -d $dir/data ]]; then
    as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

case ${1:-} in
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  *) echo "usage: $0 start [--fast] | stop DIR" >&2; exit 2 ;;
esac

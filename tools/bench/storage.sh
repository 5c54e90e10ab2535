#!/usr/bin/env bash
# Storage throughput (crates/qsafe-store/benches/storage.rs): puts and gets per second on SQLite
# and on a durable PostgreSQL (fsync on) started on loopback for the run, raw and through the
# barrier, 1 and 16 concurrent callers. About 1 minute plus the release build.
#
#   tools/bench/storage.sh
#
# SQLite's file goes to $TMPDIR (default /tmp): put throughput depends on that disk's fsync.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
eval "$(scripts/postgres.sh start)"
trap 'scripts/postgres.sh stop "$QSAFE_PG_DIR"' EXIT
QSAFE_BENCH_POSTGRES_URL=$QSAFE_TEST_POSTGRES_URL cargo bench -p qsafe-store --bench storage

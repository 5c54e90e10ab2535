#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it (.ci/run calls this script):
#   peers → format → ring check → clippy → tests (nextest, plus doctests) → the reference
#   architecture end to end → fuzz targets build.
# Needs: the Rust toolchain (cargo, rustfmt, clippy; cargo-nextest if present), python3 with venv,
# and access to crates.io, PyPI and Debian's archive. Everything else is installed by
# scripts/test-deps.sh, and a throw-away PostgreSQL cluster is started by scripts/postgres.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "test peers (scripts/test-deps.sh)"
scripts/test-deps.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "ring must not be in the dependency graph"
# Cargo.lock may name ring as an optional dependency nobody enables (rustls-webpki's); what
# counts is whether it is built, i.e. whether `cargo tree -i ring` prints anything.
# A failing `cargo tree` fails the step, unless it failed because ring is not even in the lock.
tree_err=$(mktemp)
if ! ring_users=$(cargo tree --workspace --locked -i ring --edges normal,build,dev --target all 2>"$tree_err"); then
  if ! grep -q "did not match any packages" "$tree_err"; then
    cat "$tree_err" >&2
    echo "error: cargo tree failed; cannot tell whether ring is in the graph" >&2
    exit 1
  fi
  ring_users=""
fi
rm -f "$tree_err"
if [[ -n $ring_users ]]; then
  echo "$ring_users"
  echo "error: ring is in the dependency graph; rustls would lose its post-quantum provider" >&2
  exit 1
fi
echo "ok: no ring"

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "PostgreSQL for the storage tests (scripts/postgres.sh)"
pg_env=$(scripts/postgres.sh start --fast)
eval "$pg_env"
trap 'scripts/postgres.sh stop "$QSAFE_PG_DIR"' EXIT
echo "ok: $QSAFE_TEST_POSTGRES_URL"

step "tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast --success-output final --failure-output final
  cargo test --workspace --locked --doc
else
  cargo test --workspace --locked --no-fail-fast -- --show-output
fi

step "reference architecture (examples/reference-architecture/run.sh)"
examples/reference-architecture/run.sh

step "fuzz targets (stable: build, and replay the committed seeds)"
# In the main target directory: the fuzz workspace's dependencies are the main workspace's, built
# already (in its own directory a fresh clone built aws-lc, sqlx and tokio a second time).
CARGO_TARGET_DIR="$PWD/target" cargo check --manifest-path fuzz/Cargo.toml --all-targets --locked
CARGO_TARGET_DIR="$PWD/target" cargo test --manifest-path fuzz/Cargo.toml --no-default-features --locked

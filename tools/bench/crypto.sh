#!/usr/bin/env bash
# Runs qsafe-crypto's criterion benchmarks (qsafe next to raw aws-lc-rs, in the same run) and
# prints the markdown table of tools/bench/crypto-report.py. About 3 minutes on 2 cores, plus the
# release build.
#
#   tools/bench/crypto.sh                       everything
#   tools/bench/crypto.sh ml-dsa                only benchmarks whose name contains "ml-dsa"
#   tools/bench/crypto.sh -- --strict           report options after "--" (see crypto-report.py -h)
#
# Run it on an otherwise idle machine: the ratios are robust to the machine, not to its load.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

filter=()
report=()
while (($#)); do
  if [[ $1 == -- ]]; then
    shift
    report=("$@")
    break
  fi
  filter+=("$1")
  shift
done

# Only this run's results go into the table (criterion keeps results of earlier runs and of
# benchmarks that no longer exist).
since=$(date +%s)
cargo bench -p qsafe-crypto --bench primitives -- "${filter[@]}" >&2
python3 "$root/tools/bench/crypto-report.py" --since "$since" "${report[@]}"

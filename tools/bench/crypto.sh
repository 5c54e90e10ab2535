#!/usr/bin/env bash
# Runs qsafe-crypto's criterion benchmarks (qsafe next to raw aws-lc-rs, in the same run) and
# prints the markdown table of tools/bench/crypto-report.py. About 5 minutes a round on 2 cores,
# plus the release build.
#
#   tools/bench/crypto.sh                       everything, one round
#   tools/bench/crypto.sh --rounds 3            three rounds; the table gives median times and the
#                                               median of the rounds' ratios, with their range
#   tools/bench/crypto.sh ml-dsa                only benchmarks whose name contains "ml-dsa"
#   tools/bench/crypto.sh -- --strict           report options after "--" (see crypto-report.py -h)
#
# Run it on an otherwise idle machine: the ratios are robust to the machine, not to its load.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

rounds=1
filter=()
report=()
while (($#)); do
  case $1 in
    --rounds)
      rounds=${2:?--rounds needs a number}
      shift 2
      ;;
    --)
      shift
      report=("$@")
      break
      ;;
    *)
      filter+=("$1")
      shift
      ;;
  esac
done

saved=$(mktemp -d)
trap 'rm -rf "$saved"' EXIT
for ((round = 1; round <= rounds; round++)); do
  echo "round $round of $rounds" >&2
  # Only this round's results count (criterion keeps results of earlier runs and of benchmarks
  # that no longer exist).
  since=$(date +%s)
  cargo bench -p qsafe-crypto --bench primitives -- "${filter[@]}" >&2
  python3 tools/bench/crypto-report.py --since "$since" --save "$saved/$round.json" >/dev/null
done
python3 tools/bench/crypto-report.py --rounds "$saved"/*.json "${report[@]}"
